import type { ChatMessage } from "./chat.js";
import type { StreamingDecoder } from "./streaming-decoder.js";

/**
 * A model package's tokenizer entry (PROTOCOL §4.1): byte-level ids, or a Hugging Face
 * tokenizer.json shipped in the package (and optionally a Jinja chat template), each pinned by
 * its sha256. Defined here, on the protocol floor, because clients and nodes both encode
 * prompts with it; runtime/model/manifest.ts validates manifests against a schema whose type is
 * checked to be exactly this one.
 *
 * The chain of trust: the registry stores keccak256 of the manifest (manifestHash, §2.2), the
 * manifest pins the tokenizer files by sha256, and loadTokenizer refuses files that do not
 * match — so a client and a prover that load the same registered model derive the same ids
 * from the same text (PROTOCOL §5.6).
 */
export type TokenizerSpec =
  | { type: "bytes"; bos: number; eos: number; pad: number }
  | {
      type: "hf";
      file: string;
      sha256: string;
      bos: number | null;
      /** The id after which generation stops. */
      eos: number | null;
      /** Jinja chat template (Hugging Face's `chat_template`); without one, chat requests are refused. */
      chatTemplate?: { file: string; sha256: string } | undefined;
    };

/** Text ↔ ids for one model, identical on every node that loads the same pinned files. */
export interface TextTokenizer {
  readonly spec: TokenizerSpec;
  /** Ids of a completion prompt, with whatever the tokenizer adds (Llama: BOS). */
  encode(text: string): number[];
  /** Ids of a chat, rendered (chat template, or the canonical rendering for "bytes"). */
  encodeChat(messages: readonly ChatMessage[]): number[];
  /** Text of ids, special tokens dropped. */
  decode(ids: readonly number[]): string;
  /** Incremental decoding of ids that follow `context` (the prompt's ids), PROTOCOL §5.6. */
  streamDecoder(context: readonly number[]): StreamingDecoder;
}

/** The bytes of the files a "hf" spec names. */
export type TokenizerFiles = { tokenizer: Uint8Array; chatTemplate?: Uint8Array | undefined };
