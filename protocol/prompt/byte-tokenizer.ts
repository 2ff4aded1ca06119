import { renderChat, type ChatMessage } from "./chat.js";
import { StreamingDecoder } from "./streaming-decoder.js";
import type { TextTokenizer, TokenizerSpec } from "./tokenizer.js";

type ByteSpec = Extract<TokenizerSpec, { type: "bytes" }>;

/**
 * The generated models' byte-level tokenizer (PROTOCOL §4.1): id b < 256 is byte b, then BOS,
 * EOS, PAD. A text prompt is [bos] ‖ its UTF-8 bytes; a chat is the canonical rendering encoded
 * the same way; decoding drops the specials and reads the bytes as UTF-8.
 */
export class ByteTokenizer implements TextTokenizer {
  constructor(readonly spec: ByteSpec) {}

  encode(text: string): number[] {
    return [this.spec.bos, ...new TextEncoder().encode(text)];
  }

  encodeChat(messages: readonly ChatMessage[]): number[] {
    return this.encode(renderChat(messages));
  }

  decode(ids: readonly number[]): string {
    return new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(ids.filter((id) => id < 256)));
  }

  streamDecoder(context: readonly number[]): StreamingDecoder {
    return new StreamingDecoder((ids) => this.decode(ids), context);
  }
}
