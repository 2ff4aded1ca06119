import { PromptEncodingError } from "./errors.js";

export type ChatRole = "system" | "developer" | "user" | "assistant";
export type ChatMessage = { role: ChatRole; content: string | readonly { type: "text"; text: string }[] };

/** A message's text: a content array of text parts is their concatenation without separator. */
export function messageText(m: ChatMessage): string {
  return typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("");
}

/**
 * Canonical chat rendering of models without a chat template of their own (the byte-level
 * generated models, PROTOCOL §5.6): each message as "<|role|>\n" + content + "\n", then
 * "<|assistant|>\n" to cue the reply.
 */
export function renderChat(messages: readonly ChatMessage[]): string {
  if (messages.length === 0) throw new PromptEncodingError("a chat needs at least one message");
  let out = "";
  for (const m of messages) out += `<|${m.role}|>\n${messageText(m)}\n`;
  return `${out}<|assistant|>\n`;
}
