/**
 * npm run model:generate -- --preset tiny|small [--seed N] [--out DIR] [--trace-dtype 1|2]
 * Deterministic synthetic Llama-family model package (PROTOCOL §4.1) into models/generated/.
 */
import { Command } from "commander";
import { join } from "node:path";
import { DEFAULT_SEED, generateSyntheticModel, PRESETS, type PresetName } from "../runtime/model/synthetic.js";

const program = new Command()
  .option("--preset <name>", `one of ${Object.keys(PRESETS).join(", ")}`, "tiny")
  .option("--seed <n>", "PRNG seed", String(DEFAULT_SEED))
  .option("--out <dir>", "output directory (default models/generated/<preset>)")
  .option("--trace-dtype <n>", "1 = binary16, 2 = binary32", "1")
  .parse();
const opts = program.opts<{ preset: string; seed: string; out?: string; traceDtype: string }>();
if (!(opts.preset in PRESETS)) program.error(`unknown preset ${opts.preset}`);
const started = performance.now();
const manifest = await generateSyntheticModel({
  preset: opts.preset as PresetName,
  dir: opts.out ?? join("models", "generated", opts.preset),
  seed: Number(opts.seed),
  traceDtype: opts.traceDtype === "2" ? 2 : 1,
});
console.log(`${manifest.name}: weightsRoot ${manifest.weightsRoot} modelId ${manifest.modelId} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
