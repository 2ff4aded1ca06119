import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import type { TokenizerFiles, TokenizerSpec } from "../../protocol/prompt/tokenizer.js";
import { ModelPackageError } from "../errors.js";
import { CHAT_TEMPLATE_FILE, TOKENIZER_FILE } from "./tokenizer-files.js";

type HfSpec = Extract<TokenizerSpec, { type: "hf" }>;
type ChatTemplateEntry = string | { name: string; template: string }[] | undefined;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ModelPackageError(`cannot read ${file}`, { cause: err });
  }
}

/**
 * The chat template of a Hugging Face directory: `chat_template.jinja` (newer transformers), or
 * `chat_template` in tokenizer_config.json — a string, or a list of named templates of which
 * "default" (else the first) is the one apply_chat_template uses without a name.
 */
async function readChatTemplate(source: string): Promise<string | undefined> {
  const file = await readOptional(join(source, CHAT_TEMPLATE_FILE));
  if (file) return file.toString("utf8");
  const config = await readOptional(join(source, "tokenizer_config.json"));
  if (!config) return undefined;
  let entry: ChatTemplateEntry;
  try {
    entry = (JSON.parse(config.toString("utf8")) as { chat_template?: ChatTemplateEntry }).chat_template;
  } catch (cause) {
    throw new ModelPackageError(`tokenizer_config.json in ${source} is not JSON`, { cause });
  }
  if (typeof entry === "string" || entry === undefined) return entry;
  return (entry.find((t) => t.name === "default") ?? entry[0])?.template;
}

/**
 * A checkpoint's tokenizer as a package will carry it: tokenizer.json and the chat template
 * (if any) pinned by sha256, and loaded once here so a file the runtime's tokenizer library
 * cannot read fails the import, not the first request.
 */
export async function readHfTokenizer(source: string, ids: { bos: number | null; eos: number | null }): Promise<{ spec: HfSpec; files: TokenizerFiles }> {
  const tokenizer = await readOptional(join(source, TOKENIZER_FILE));
  if (!tokenizer) throw new ModelPackageError(`no ${TOKENIZER_FILE} in ${source}`, { details: "the package needs the model's Hugging Face tokenizer (PROTOCOL §4.7)" });
  const template = await readChatTemplate(source);
  const chatTemplate = template === undefined ? undefined : Buffer.from(template, "utf8");
  const spec: HfSpec = {
    type: "hf",
    file: TOKENIZER_FILE,
    sha256: sha(tokenizer),
    ...ids,
    ...(chatTemplate ? { chatTemplate: { file: CHAT_TEMPLATE_FILE, sha256: sha(chatTemplate) } } : {}),
  };
  const files = { tokenizer, chatTemplate };
  loadTokenizer(spec, files);
  return { spec, files };
}

/** Write the files a tokenizer spec names into a package directory. */
export async function writeTokenizerFiles(dir: string, spec: HfSpec, files: TokenizerFiles): Promise<void> {
  await writeFile(join(dir, spec.file), files.tokenizer);
  if (spec.chatTemplate && files.chatTemplate) await writeFile(join(dir, spec.chatTemplate.file), files.chatTemplate);
}
