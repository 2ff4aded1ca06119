import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { ModelPackageError } from "../errors.js";
import type { TensorSpec } from "./layout.js";
import { Llama2cCheckpoint } from "./llama2c-checkpoint.js";
import { llamaTokenizerJson } from "./llama-tokenizer-json.js";
import type { ModelManifest } from "./manifest.js";
import { writeModelPackage } from "./package-writer.js";
import { parseLlama2cTokenizer } from "./sentencepiece-vocab.js";
import { TOKENIZER_FILE } from "./tokenizer-files.js";

export type ImportLlama2cParameters = {
  /** The llama2.c `model.bin` (legacy export). */
  checkpoint: string;
  /** llama2.c's `tokenizer.bin` for the checkpoint's vocabulary. */
  tokenizer: string;
  dir: string;
  name?: string;
  chunkSize?: number;
  traceDtype?: 1 | 2;
  onTensor?: (spec: TensorSpec, index: number, total: number) => void;
};

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new ModelPackageError(`cannot read ${file}`, { cause });
  }
  return hash.digest("hex");
}

/**
 * Convert a llama2.c checkpoint and its tokenizer.bin into a model package (PROTOCOL §4.7):
 * weights rounded to binary16 with Q/K rows permuted to rotate-half RoPE, and a Hugging Face
 * tokenizer.json derived from the SentencePiece pieces and scores. Deterministic: the same
 * inputs give byte-identical packages (the source is recorded by content hash, not path), so
 * two operators converting the same checkpoint register the same manifest.
 *
 * llama2.c models end a sequence by predicting BOS (run.c stops on token 1, and TinyStories
 * was trained with BOS between stories), so the package's `eos` — the id after which
 * generation stops — is the BOS id, not `</s>`.
 */
export async function importLlama2cCheckpoint(p: ImportLlama2cParameters): Promise<ModelManifest> {
  const ckpt = await Llama2cCheckpoint.open(p.checkpoint);
  try {
    let tokenizerBytes: Buffer;
    try {
      tokenizerBytes = await readFile(p.tokenizer);
    } catch (cause) {
      throw new ModelPackageError(`cannot read the llama2.c tokenizer ${p.tokenizer}`, { cause });
    }
    const vocab = parseLlama2cTokenizer(tokenizerBytes, ckpt.architecture.vocab, p.tokenizer);
    const tokenizerJson = Buffer.from(`${JSON.stringify(llamaTokenizerJson(vocab))}\n`);
    const [checkpointSha, tokenizerSha] = [await sha256File(p.checkpoint), createHash("sha256").update(tokenizerBytes).digest("hex")];
    const manifest = await writeModelPackage({
      dir: p.dir,
      name: p.name ?? basename(p.checkpoint).replace(/\.bin$/, ""),
      arch: ckpt.architecture,
      encoding: { traceDtype: p.traceDtype ?? 1, weightsDtype: 1, chunkSize: p.chunkSize ?? 256 },
      tokenizer: { type: "hf", file: TOKENIZER_FILE, sha256: createHash("sha256").update(tokenizerJson).digest("hex"), bos: vocab.bos, eos: vocab.bos },
      source: { kind: "llama2c", checkpointSha256: checkpointSha, tokenizerSha256: tokenizerSha },
      tensorData: (spec) => ckpt.tensor(spec),
      beforeManifest: () => writeFile(join(p.dir, TOKENIZER_FILE), tokenizerJson),
      ...(p.onTensor ? { onTensor: p.onTensor } : {}),
    });
    return manifest;
  } finally {
    await ckpt.close();
  }
}
