import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { TokenizerFileError } from "../../protocol/prompt/errors.js";
import type { TextTokenizer, TokenizerFiles, TokenizerSpec } from "../../protocol/prompt/tokenizer.js";
import { readManifest } from "./manifest.js";

/** File names of a package's tokenizer (PROTOCOL §4.1). */
export const TOKENIZER_FILE = "tokenizer.json";
export const CHAT_TEMPLATE_FILE = "chat_template.jinja";

/** The files a tokenizer entry names, read from a package directory (none for "bytes"). */
export async function readTokenizerFiles(dir: string, spec: TokenizerSpec): Promise<TokenizerFiles | undefined> {
  if (spec.type === "bytes") return undefined;
  const read = async (file: string) => {
    try {
      return new Uint8Array(await readFile(join(dir, file)));
    } catch (cause) {
      throw new TokenizerFileError(`cannot read ${file} of the model package at ${dir}`, { cause });
    }
  };
  return { tokenizer: await read(spec.file), chatTemplate: spec.chatTemplate ? await read(spec.chatTemplate.file) : undefined };
}

/** A package's tokenizer, its files checked against the manifest's hashes. */
export async function loadPackageTokenizer(dir: string): Promise<TextTokenizer> {
  const { tokenizer } = await readManifest(dir);
  return loadTokenizer(tokenizer, await readTokenizerFiles(dir, tokenizer));
}
