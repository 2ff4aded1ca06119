/**
 * npm run calibrate -- [--model DIR] [--prompt N] [--text T] [--new N] [--margin X] [--no-write]
 * Measures honest layer-level divergence between execution setups and writes thresholds
 * (worst deviation × margin) into the package manifest (PROTOCOL §4.6). Byte-level models get a
 * deterministic byte prompt of --prompt tokens; models with a real tokenizer get --text.
 */
import { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { calibrate, CALIBRATION_TEXT, DEFAULT_MARGIN } from "../runtime/calibration.js";
import { generateSyntheticModel } from "../runtime/model/synthetic.js";
import { releaseAllSessions } from "../runtime/session.js";
import { loadPackageTokenizer } from "../runtime/model/tokenizer-files.js";
import { createProgress, type ProgressBar } from "./lib/progress.js";

const opts = new Command()
  .option("--model <dir>", "model package", join("models", "generated", "tiny"))
  .option("--prompt <n>", "prompt tokens", "48")
  .option("--text <text>", "prompt text for models with a Hugging Face tokenizer", CALIBRATION_TEXT)
  .option("--new <n>", "generated tokens", "16")
  .option("--margin <x>", "safety factor over the worst honest deviation", String(DEFAULT_MARGIN))
  .option("--no-write", "do not write thresholds into the manifest")
  .parse()
  .opts<{ model: string; prompt: string; text: string; new: string; margin: string; write: boolean }>();

if (!existsSync(join(opts.model, "manifest.json")) && opts.model.startsWith(join("models", "generated"))) {
  const preset = opts.model.endsWith("small") ? "small" : "tiny";
  console.log(`generating ${preset} model into ${opts.model}`);
  await generateSyntheticModel({ preset, dir: opts.model });
}
const tokenizer = await loadPackageTokenizer(opts.model);
// Deterministic byte prompt (BOS first), or real text for a real tokenizer.
const prompt = tokenizer.spec.type === "bytes" ? [tokenizer.spec.bos, ...Array.from({ length: Number(opts.prompt) - 1 }, (_, i) => (i * 37 + 11) % 256)] : tokenizer.encode(opts.text);
// Bars on a terminal only (the reference trace, then each setup's re-execution); in a pipe or CI one line per step.
const progress = createProgress();
const bars = new Map<string, ProgressBar>();
const r = await calibrate({
  modelDir: opts.model,
  promptTokens: prompt,
  maxNewTokens: Number(opts.new),
  margin: Number(opts.margin),
  write: opts.write,
  onProgress: (p) => {
    const key = p.stage === "trace" ? "trace" : p.setup;
    let bar = bars.get(key);
    if (!bar) {
      progress.log(p.stage === "trace" ? `reference run: ${prompt.length} prompt + ${p.total} tokens, traced and hashed …` : `re-executing ${p.total} boundaries on ${p.setup} …`);
      bar = progress.bar(p.stage === "trace" ? "trace    " : "reexecute", p.total);
      bars.set(key, bar);
    }
    bar.update(p.done, p.stage === "trace" ? `${p.done}/${p.total} tokens` : `${p.setup}: boundary ${p.done}/${p.total}`);
  },
});
progress.stop();
console.log(`model ${r.model}, ${r.tokens} tokens, reference ${r.reference}`);
console.table(r.perSetup.map((s) => ({ setup: s.setup, maxAbs: s.maxAbs.toExponential(3), maxRelL2: s.maxRelL2.toExponential(3), worstLayer: s.worstLayer, reexecMs: s.ms.toFixed(1) })));
console.log(`thresholds (margin ${r.thresholds.margin}×): maxAbs ${r.thresholds.maxAbs.toExponential(3)}, relL2 ${r.thresholds.relL2.toExponential(3)}${opts.write ? " -> written to manifest" : ""}`);
await releaseAllSessions();
