import type { Hex } from "viem";
import { tokenRoot } from "../commitments/token-root.js";
import { PromptEncodingError } from "./errors.js";
import { encodeText, type TokenizerSpec } from "./tokenizer.js";

export type ChatRole = "system" | "developer" | "user" | "assistant";
export type ChatMessage = { role: ChatRole; content: string | readonly { type: "text"; text: string }[] };

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
