/**
 * npm run model:import -- <hf-checkpoint-dir> [--out DIR] [--name NAME] [--chunk-size C] [--trace-dtype 1|2]
 * Converts a Hugging Face Llama-architecture checkpoint on disk (config.json, *.safetensors,
 * tokenizer.json) into a stepproof model package (PROTOCOL §4.7).
 */
import { SingleBar, Presets } from "cli-progress";
import { Command } from "commander";
import { basename, join } from "node:path";
import { importHfCheckpoint } from "../runtime/model/hf-import.js";

const program = new Command()
  .argument("<source>", "checkpoint directory")
  .option("--out <dir>", "package directory (default models/generated/<name>)")
  .option("--name <name>", "model name (default: the directory name)")
  .option("--chunk-size <n>", "elements per committed chunk", "256")
  .option("--trace-dtype <n>", "1 = binary16, 2 = binary32", "1")
  .parse();
const source = program.args[0]!;
const opts = program.opts<{ out?: string; name?: string; chunkSize: string; traceDtype: string }>();
const name = opts.name ?? basename(source);
const bar = new SingleBar({ format: "importing {bar} {value}/{total} tensors | {tensor}", hideCursor: true }, Presets.shades_classic);
let started = false;
const t0 = performance.now();
const manifest = await importHfCheckpoint({
  source,
  dir: opts.out ?? join("models", "generated", name),
  name,
  chunkSize: Number(opts.chunkSize),
  traceDtype: opts.traceDtype === "2" ? 2 : 1,
  onTensor: (spec, i, total) => {
    if (!started) {
      bar.start(total, 0, { tensor: spec.name });
      started = true;
    }
    bar.update(i + 1, { tensor: spec.name });
  },
});
bar.stop();
console.log(`${manifest.name}: ${manifest.architecture.layers} layers, d=${manifest.architecture.hidden}, vocab ${manifest.architecture.vocab}`);
console.log(`weightsRoot ${manifest.weightsRoot}\nmodelId ${manifest.modelId} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
