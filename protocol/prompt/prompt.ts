import type { Hex } from "viem";
import { tokenIdsHash } from "../commitments/output-hash.js";
import { PromptEncodingError } from "./errors.js";
import { encodeText, type TokenizerSpec } from "./tokenizer.js";

export type ChatRole = "system" | "developer" | "user" | "assistant";
export type ChatMessage = { role: ChatRole; content: string | readonly { type: "text"; text: string }[] };

/**
 * promptHash of a job (PROTOCOL §5.6): keccak256 of the prompt's token ids, each a uint32
 * big-endian, concatenated — the encoding outputHash uses (§5.3), so the ids a job commits in
 * its trace's token leaves can be checked against both hashes without any tokenizer.
 */
export function promptHash(tokens: readonly number[]): Hex {
  if (tokens.length === 0) throw new PromptEncodingError("a prompt needs at least one token");
  try {
    return tokenIdsHash(tokens);
  } catch (cause) {
    throw new PromptEncodingError((cause as Error).message, { cause });
  }
}

/**
 * Canonical chat rendering (PROTOCOL §5.6): each message as "<|role|>\n" + content + "\n",
 * then "<|assistant|>\n" to cue the reply. Content parts are concatenated without separators.
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  if (messages.length === 0) throw new PromptEncodingError("a chat needs at least one message");
  let out = "";
  for (const m of messages) {
    const content = typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
    out += `<|${m.role}|>\n${content}\n`;
  }
  return `${out}<|assistant|>\n`;
}

/** A completion prompt as OpenAI's API accepts it: text, or token ids (sent verbatim). */
export type CompletionPrompt = string | readonly number[];

export function completionPromptTokens(spec: TokenizerSpec, prompt: CompletionPrompt): number[] {
  return typeof prompt === "string" ? encodeText(spec, prompt) : [...prompt];
}

export function chatPromptTokens(spec: TokenizerSpec, messages: readonly ChatMessage[]): number[] {
  return encodeText(spec, renderChat(messages));
}
