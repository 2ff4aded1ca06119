/**
 * npm run model:import -- <source> [--tokenizer FILE] [--out DIR] [--name NAME] [--chunk-size C] [--trace-dtype 1|2]
 *
 * Converts a checkpoint on disk into a stepproof model package (PROTOCOL §4.7):
 * - a Hugging Face Llama, Mistral or Qwen2 directory (config.json, *.safetensors,
 *   tokenizer.json, optionally a chat template), Llama-3.1/3.2 scaled RoPE included;
 * - a llama2.c checkpoint file (model.bin, legacy export) with its tokenizer.bin (--tokenizer,
 *   default tokenizer.bin beside the checkpoint).
 */
import { Command } from "commander";
import { statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { importHfCheckpoint } from "../runtime/model/hf-import.js";
import { importLlama2cCheckpoint } from "../runtime/model/llama2c-import.js";
import type { TensorSpec } from "../runtime/model/layout.js";
import { StepproofError } from "../protocol/errors.js";
import { createProgress, type ProgressBar } from "./lib/progress.js";

const program = new Command()
  .argument("<source>", "Hugging Face checkpoint directory, or llama2.c checkpoint file")
  .option("--tokenizer <file>", "llama2.c tokenizer.bin (default: tokenizer.bin beside the checkpoint)")
  .option("--out <dir>", "package directory (default models/<name>)")
  .option("--name <name>", "model name (default: the directory or file name)")
  .option("--chunk-size <n>", "elements per committed chunk (default 256, or √context when larger: the registry needs C² ≥ context)")
  .option("--trace-dtype <n>", "1 = binary16, 2 = binary32", "1")
  .parse();
const source = program.args[0]!;
const opts = program.opts<{ tokenizer?: string; out?: string; name?: string; chunkSize?: string; traceDtype: string }>();
const isFile = statSync(source, { throwIfNoEntry: false })?.isFile() ?? false;
const name = opts.name ?? basename(source).replace(/\.bin$/, "");
// A bar on a terminal only; in a pipe or CI one plain line.
const progress = createProgress();
let bar: ProgressBar | undefined;
const onTensor = (spec: TensorSpec, i: number, total: number) => {
  if (!bar) progress.log(`importing ${total} tensors …`);
  bar ??= progress.bar("importing", total);
  bar.update(i + 1, `${i + 1}/${total} ${spec.name}`);
};
const common = { dir: opts.out ?? join("models", name), name, ...(opts.chunkSize ? { chunkSize: Number(opts.chunkSize) } : {}), traceDtype: opts.traceDtype === "2" ? (2 as const) : (1 as const), onTensor };
const t0 = performance.now();
try {
  const manifest = isFile
    ? await importLlama2cCheckpoint({ checkpoint: source, tokenizer: opts.tokenizer ?? join(dirname(source), "tokenizer.bin"), ...common })
    : await importHfCheckpoint({ source, ...common });
  progress.stop();
  console.log(`${manifest.name}: ${manifest.architecture.layers} layers, d=${manifest.architecture.hidden}, vocab ${manifest.architecture.vocab} (${isFile ? "llama2.c" : "Hugging Face"} checkpoint) → ${common.dir}`);
  console.log(`weightsRoot ${manifest.weightsRoot}\nmodelId ${manifest.modelId} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
} catch (err) {
  progress.stop();
  console.error(`model:import failed: ${err instanceof StepproofError ? err.message : String(err)}`);
  process.exit(1);
}
