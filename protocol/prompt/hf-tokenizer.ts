import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { messageText, type ChatMessage } from "./chat.js";
import { ChatTemplateMissingError, PromptEncodingError, TokenizerFileError } from "./errors.js";
import { StreamingDecoder } from "./streaming-decoder.js";
import type { TextTokenizer, TokenizerSpec } from "./tokenizer.js";

type HfSpec = Extract<TokenizerSpec, { type: "hf" }>;

/**
 * A Hugging Face tokenizer.json through @huggingface/tokenizers (pure JavaScript, same ids as
 * the Rust tokenizers), with the package's Jinja chat template through @huggingface/jinja.
 * PROTOCOL §5.6 fixes the options both sides use, so nothing else in a Hugging Face directory
 * (tokenizer_config.json flags) can make two nodes disagree:
 * - completion text: `encode(text)` with the tokenizer's own special tokens (Llama: BOS first);
 * - chat: the template rendered with `messages` (text parts joined), `add_generation_prompt`,
 *   `bos_token`, `eos_token`, then encoded WITHOUT added special tokens (the template writes
 *   them itself), as transformers' apply_chat_template does;
 * - decoding: special tokens skipped, no clean-up of spaces before punctuation.
 */
export class HfTokenizer implements TextTokenizer {
  readonly #tokenizer: Tokenizer;
  readonly #template: Template | undefined;

  constructor(
    readonly spec: HfSpec,
    tokenizerJson: unknown,
    chatTemplate: string | undefined,
  ) {
    try {
      this.#tokenizer = new Tokenizer(tokenizerJson as object, {});
    } catch (cause) {
      throw new TokenizerFileError(`${spec.file} is not a tokenizer @huggingface/tokenizers can load`, { cause });
    }
    try {
      this.#template = chatTemplate === undefined ? undefined : new Template(chatTemplate);
    } catch (cause) {
      throw new TokenizerFileError(`the chat template ${spec.chatTemplate?.file} does not parse`, { cause });
    }
  }

  encode(text: string): number[] {
    return this.#tokenizer.encode(text).ids;
  }

  /** The chat as the model's template renders it (PROTOCOL §5.6). */
  renderChat(messages: readonly ChatMessage[]): string {
    if (!this.#template) throw new ChatTemplateMissingError("this model has no chat template", { details: "its package names none (PROTOCOL §5.6); send a completion prompt instead" });
    if (messages.length === 0) throw new PromptEncodingError("a chat needs at least one message");
    const token = (id: number | null) => (id === null ? "" : (this.#tokenizer.id_to_token(id) ?? ""));
    try {
      return this.#template.render({
        messages: messages.map((m) => ({ role: m.role, content: messageText(m) })),
        add_generation_prompt: true,
        bos_token: token(this.spec.bos),
        eos_token: token(this.spec.eos),
      });
    } catch (cause) {
      // Templates reject chats they cannot express (raise_exception), e.g. roles out of order.
      throw new PromptEncodingError(`the model's chat template refused this chat: ${(cause as Error).message}`, { cause });
    }
  }

  encodeChat(messages: readonly ChatMessage[]): number[] {
    return this.#tokenizer.encode(this.renderChat(messages), { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return "";
    return this.#tokenizer.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  streamDecoder(context: readonly number[]): StreamingDecoder {
    return new StreamingDecoder((ids) => this.decode(ids), context);
  }
}
