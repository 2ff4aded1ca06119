import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "./generate.js";
import { MANIFEST_FILE, manifestSchema, type LayerThresholds, type ModelManifest } from "./model/manifest.js";
import { reexecuteLayer } from "./reexec.js";
import { describeSetup, ModelSessions, type SessionConfig } from "./session.js";

/**
 * Tolerance calibration (PROTOCOL §4.6): generate an honest trace on a reference setup, replay
 * every layer on each alternative setup, and take the worst honest deviation times a margin.
 */
export const REFERENCE_SETUP: SessionConfig = { executionProvider: "cpu", intraOpThreads: 1, graphOptimizationLevel: "all", compute: "f32" };

export const ALTERNATIVE_SETUPS: SessionConfig[] = [
  // Same setup: prefill of all positions vs. the token-by-token decode that produced the trace.
  REFERENCE_SETUP,
  { ...REFERENCE_SETUP, intraOpThreads: 2 },
  { ...REFERENCE_SETUP, graphOptimizationLevel: "disabled" },
  { ...REFERENCE_SETUP, graphOptimizationLevel: "basic" },
  { ...REFERENCE_SETUP, compute: "f16" },
  { ...REFERENCE_SETUP, compute: "f16", intraOpThreads: 2 },
];

/** Default calibration prompt of models with a real tokenizer: ordinary prose, about 40 tokens. */
export const CALIBRATION_TEXT = "Once upon a time, in a small town by the sea, a boy named Tom found an old map in his grandmother's attic. He asked his best friend Mia to help him";

/** Default safety factor over the worst honest deviation measured. */
export const DEFAULT_MARGIN = 4;

export type SetupDeviation = { setup: string; maxAbs: number; maxRelL2: number; worstLayer: number; ms: number };

export type CalibrationReturnType = {
  model: string;
  reference: string;
  tokens: number;
  perSetup: SetupDeviation[];
  thresholds: LayerThresholds;
};

export type CalibrateParameters = {
  modelDir: string;
  promptTokens: number[];
  maxNewTokens: number;
  setups?: SessionConfig[];
  margin?: number;
  /** Write the thresholds into the package manifest (default false). */
  write?: boolean;
  /** The long steps as they go (a CLI draws bars from it). */
  onProgress?: (progress: CalibrationProgress) => void;
};

/**
 * `trace`: the reference run, token by token (each token's rows are captured and hashed into
 * the trace as it goes); `reexecute`: one alternative setup re-executing the trace, boundary by
 * boundary (`done` of `total` = layers + 1).
 */
export type CalibrationProgress = { stage: "trace"; done: number; total: number } | { stage: "reexecute"; setup: string; done: number; total: number };

export async function calibrate(p: CalibrateParameters): Promise<CalibrationReturnType> {
  const margin = p.margin ?? DEFAULT_MARGIN;
  const setups = p.setups ?? ALTERNATIVE_SETUPS;
  const honest = await generate({
    modelDir: p.modelDir,
    promptTokens: p.promptTokens,
    maxNewTokens: p.maxNewTokens,
    samplingParams: 0n,
    trace: true,
    stopAtEos: false,
    session: REFERENCE_SETUP,
    ...(p.onProgress ? { onToken: (_token: number, index: number) => p.onProgress!({ stage: "trace", done: index + 1, total: p.maxNewTokens }) } : {}),
  });
  const trace = honest.trace!;
  const perSetup: SetupDeviation[] = [];
  let layers = 0;
  let name = "";
  for (const setup of setups) {
    const s = await ModelSessions.load(p.modelDir, setup);
    layers = s.manifest.architecture.layers;
    name = s.manifest.name;
    const dev: SetupDeviation = { setup: describeSetup(setup), maxAbs: 0, maxRelL2: 0, worstLayer: 0, ms: 0 };
    // Thresholds are not known yet: measure with infinite ones.
    for (let l = 0; l <= layers; l++) {
      const r = await reexecuteLayer({ sessions: s, trace, layer: l, thresholds: { maxAbs: Infinity, relL2: Infinity } });
      if (r.maxRelL2 > dev.maxRelL2) dev.worstLayer = l;
      dev.maxAbs = Math.max(dev.maxAbs, r.maxAbs);
      dev.maxRelL2 = Math.max(dev.maxRelL2, r.maxRelL2);
      dev.ms += r.ms;
      p.onProgress?.({ stage: "reexecute", setup: dev.setup, done: l + 1, total: layers + 1 });
    }
    perSetup.push(dev);
    await s.release();
  }
  const measured = { maxAbs: Math.max(...perSetup.map((x) => x.maxAbs)), relL2: Math.max(...perSetup.map((x) => x.maxRelL2)) };
  // Floors keep a threshold meaningful when every setup agreed bit for bit: one binary16 ulp
  // at magnitude 1 (2^-10) and the matching relative error.
  const thresholds: LayerThresholds = {
    maxAbs: Math.max(measured.maxAbs * margin, 2 ** -10),
    relL2: Math.max(measured.relL2 * margin, 2 ** -11),
    margin,
    measured,
    setups: [describeSetup(REFERENCE_SETUP), ...perSetup.map((x) => x.setup)],
  };
  if (p.write) await writeThresholds(p.modelDir, thresholds);
  return { model: name, reference: describeSetup(REFERENCE_SETUP), tokens: honest.tokens.length, perSetup, thresholds };
}

/** Store thresholds in the manifest (its hash, registered on-chain, then covers them). */
export async function writeThresholds(modelDir: string, thresholds: LayerThresholds): Promise<ModelManifest> {
  const file = join(modelDir, MANIFEST_FILE);
  const manifest = manifestSchema.parse({ ...JSON.parse(await readFile(file, "utf8")), thresholds });
  // Write and rename: a node reading the manifest meanwhile sees the old one or the new one, whole.
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(tmp, file);
  return manifest;
}
