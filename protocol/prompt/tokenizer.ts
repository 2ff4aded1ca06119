import { PromptEncodingError } from "./errors.js";

/**
 * A model package's tokenizer entry (PROTOCOL §4.1): byte-level ids, or a Hugging Face
 * tokenizer.json shipped in the package. Defined here, on the protocol floor, because clients
 * and nodes both encode prompts with it; runtime/model/manifest.ts validates manifests against
 * a schema whose type is checked to be exactly this one.
 */
export type TokenizerSpec =
  | { type: "bytes"; bos: number; eos: number; pad: number }
  | { type: "hf"; file: string; sha256: string; bos: number | null; eos: number | null };

/**
 * Text ↔ token ids for a model package's tokenizer (PROTOCOL §5.6). The runtime only ever sees
 * ids; text handling lives here, at the edge, shared by the client and the prover's API so both
 * sides derive the same ids (and so the same promptRoot) from the same text.
 *
 * Byte-level ("bytes"): a text prompt is [bos] followed by its UTF-8 bytes. Hugging Face
 * tokenizers ("hf") are not implemented here: send token ids instead of text.
 */
export function encodeText(spec: TokenizerSpec, text: string): number[] {
  if (spec.type !== "bytes") {
    throw new PromptEncodingError(`text prompts are not supported for "${spec.type}" tokenizers`, { details: "send the prompt as an array of token ids" });
  }
  return [spec.bos, ...new TextEncoder().encode(text)];
}

/** Incremental decoder: bytes split across tokens (multi-byte UTF-8) come out once complete. */
export class StreamingDecoder {
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  constructor(readonly spec: TokenizerSpec) {}

  /** Text completed by `ids`; special tokens (bos, eos, pad) produce no text. */
  push(ids: readonly number[]): string {
    if (this.spec.type !== "bytes") return ""; // ids only: callers read token_ids instead
    return this.#decoder.decode(Uint8Array.from(ids.filter((id) => id < 256)), { stream: true });
  }

  /** Whatever an unfinished multi-byte sequence leaves at the end (as U+FFFD). */
  flush(): string {
    return this.#decoder.decode();
  }
}

export function decodeTokens(spec: TokenizerSpec, ids: readonly number[]): string {
  const d = new StreamingDecoder(spec);
  return d.push(ids) + d.flush();
}
