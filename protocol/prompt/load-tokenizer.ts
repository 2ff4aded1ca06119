import { sha256 } from "viem";
import { ByteTokenizer } from "./byte-tokenizer.js";
import { TokenizerFileError } from "./errors.js";
import { HfTokenizer } from "./hf-tokenizer.js";
import type { TextTokenizer, TokenizerFiles, TokenizerSpec } from "./tokenizer.js";

/** Parsed tokenizers by content hash: a 32k-piece tokenizer.json takes ~0.3 s to load. */
const cache = new Map<string, TextTokenizer>();

const hex = (bytes: Uint8Array) => sha256(bytes).slice(2);

/**
 * The tokenizer a manifest's entry describes. "bytes" needs no files. "hf" needs the bytes of
 * the files it names, and each must hash to the sha256 the manifest pins (PROTOCOL §5.6): that
 * is what makes a tokenizer served by an untrusted prover as good as a local one.
 */
export function loadTokenizer(spec: TokenizerSpec, files?: TokenizerFiles): TextTokenizer {
  if (spec.type === "bytes") return new ByteTokenizer(spec);
  if (!files) throw new TokenizerFileError(`the "${spec.file}" tokenizer needs its files`, { details: "load them from the model package or the prover (GET /v1/models/{id}/tokenizer)" });
  const got = hex(files.tokenizer);
  if (got !== spec.sha256) throw new TokenizerFileError(`${spec.file} does not match the manifest`, { details: `sha256 ${got}, manifest pins ${spec.sha256}` });
  let template: string | undefined;
  if (spec.chatTemplate) {
    if (!files.chatTemplate) throw new TokenizerFileError(`the chat template ${spec.chatTemplate.file} is missing`);
    const t = hex(files.chatTemplate);
    if (t !== spec.chatTemplate.sha256) throw new TokenizerFileError(`${spec.chatTemplate.file} does not match the manifest`, { details: `sha256 ${t}, manifest pins ${spec.chatTemplate.sha256}` });
    template = new TextDecoder("utf-8", { fatal: true }).decode(files.chatTemplate);
  }
  const key = JSON.stringify(spec);
  const hit = cache.get(key);
  if (hit) return hit;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(files.tokenizer));
  } catch (cause) {
    throw new TokenizerFileError(`${spec.file} is not JSON`, { cause });
  }
  const tokenizer = new HfTokenizer(spec, json, template);
  cache.set(key, tokenizer);
  return tokenizer;
}
