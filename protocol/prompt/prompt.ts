import type { Hex } from "viem";
import { tokenRoot } from "../commitments/token-root.js";
import type { ChatMessage } from "./chat.js";
import { PromptEncodingError } from "./errors.js";
import type { TextTokenizer } from "./tokenizer.js";

export type { ChatMessage, ChatRole } from "./chat.js";
export { renderChat } from "./chat.js";

/**
 * promptRoot of a job (PROTOCOL §5.6): the token root (§3.4) of the prompt's ids at positions
 * 0..P-1 — the trace's own token leaves, so the judge reads the prompt from it and anyone can
 * check a prompt against it without a tokenizer. The job's inputTokens is `tokens.length`.
 */
export function promptRoot(tokens: readonly number[]): Hex {
  if (tokens.length === 0) throw new PromptEncodingError("a prompt needs at least one token");
  try {
    return tokenRoot(tokens, 0);
  } catch (cause) {
    throw new PromptEncodingError((cause as Error).message, { cause });
  }
}

/** A completion prompt as OpenAI's API accepts it: text, or token ids (sent verbatim). */
export type CompletionPrompt = string | readonly number[];

export function completionPromptTokens(tokenizer: TextTokenizer, prompt: CompletionPrompt): number[] {
  const ids = typeof prompt === "string" ? tokenizer.encode(prompt) : [...prompt];
  if (ids.length === 0) throw new PromptEncodingError("the prompt encodes to no tokens");
  return ids;
}

export function chatPromptTokens(tokenizer: TextTokenizer, messages: readonly ChatMessage[]): number[] {
  return tokenizer.encodeChat(messages);
}
