import { cpSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { halfBitsToFloat } from "../../protocol/encoding/index.js";
import { calibrate } from "../../runtime/calibration.js";
import type { HiddenData } from "../../runtime/forward.js";
import { generate } from "../../runtime/generate.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import type { LayerThresholds } from "../../runtime/model/manifest.js";
import { checkSampling, reexecuteLayer, type ReplayableTrace } from "../../runtime/reexec.js";
import { ModelSessions } from "../../runtime/session.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { modelDir, tempDir } from "./helpers.js";

// Verifier setup differs from the prover's (1 thread, optimized, fp32 math) in every knob.
const VERIFIER = { intraOpThreads: 2, graphOptimizationLevel: "basic", compute: "f16" } as const;

/** The trace with one element of h[t][l] replaced. */
function tampered(trace: TraceCommitment, t: number, layer: number, index: number, bits: number): ReplayableTrace {
  return {
    tokens: trace.tokens,
    row(tt: number, ll: number): HiddenData {
      const row = trace.row(tt, ll);
      if (tt !== t || ll !== layer) return row;
      const copy = Uint16Array.from(row as Uint16Array);
      copy[index] = bits;
      return copy;
    },
  };
}

/** Smallest binary16 step away from `bits` whose distance from it exceeds `delta`. */
function beyond(bits: number, delta: number): number {
  const x = halfBitsToFloat(bits);
  let b = bits;
  // Moving the bit pattern away from zero increases |value| monotonically.
  while (Math.abs(halfBitsToFloat(b) - x) <= delta) b += 1;
  return b;
}

describe("layer re-execution against calibrated thresholds (PROTOCOL §4.6)", () => {
  let dir: string;
  let thresholds: LayerThresholds;
  let trace: TraceCommitment;
  let verifier: ModelSessions;
  const prompt = [256, ...Buffer.from("calibration prompt, not the one replayed below")];

  beforeAll(async () => {
    dir = join(tempDir(), "tiny");
    cpSync(await modelDir(), dir, { recursive: true });
    thresholds = (await calibrate({ modelDir: dir, promptTokens: prompt, maxNewTokens: 12, write: true })).thresholds;
    const honest = await generate({ modelDir: dir, promptTokens: [256, ...Buffer.from("an honest job")], maxNewTokens: 10, samplingParams: 0n, trace: true, stopAtEos: false });
    trace = honest.trace!;
    verifier = await ModelSessions.load(dir, VERIFIER);
  });

  it("calibration measured real divergence and applied its margin", () => {
    expect(thresholds.measured.maxAbs).toBeGreaterThan(0); // f16 vs f32 math differs
    expect(thresholds.maxAbs).toBeCloseTo(Math.max(thresholds.measured.maxAbs * thresholds.margin, 2 ** -10), 12);
    expect(verifier.manifest.thresholds).toEqual(thresholds);
  });

  it("passes an honest trace replayed on another setup, every layer and the embedding", async () => {
    for (let l = 0; l <= verifier.manifest.architecture.layers; l++) {
      const r = await reexecuteLayer({ sessions: verifier, trace, layer: l });
      expect(r.pass, `layer ${l}: maxAbs ${r.maxAbs} relL2 ${r.maxRelL2}`).toBe(true);
      expect(r.positions).toHaveLength(trace.tokens.length - 1);
      if (l === 0) expect(r.maxAbs).toBe(0); // embedding rows are copied exactly
    }
    const sampling = await checkSampling({ sessions: verifier, trace, promptLength: 14, samplingParams: 0n, logitTolerance: 1e-2 });
    expect(sampling.every((s) => s.pass)).toBe(true);
  });

  it("fails a perturbation just beyond the threshold on one element of one (t, l), and only there", async () => {
    const [t, layer] = [7, 2];
    const row = trace.row(t, layer) as Uint16Array;
    const index = row.findIndex((b) => Math.abs(halfBitsToFloat(b)) < 1 && Math.abs(halfBitsToFloat(b)) > 0.1);
    // Beyond threshold + the honest deviation the verifier itself may add there.
    const bad = tampered(trace, t, layer, index, beyond(row[index]!, thresholds.maxAbs + thresholds.measured.maxAbs));
    const r = await reexecuteLayer({ sessions: verifier, trace: bad, layer });
    expect(r.pass).toBe(false);
    expect(r.firstFailure).toBe(t);
    expect(r.positions.filter((p) => !p.pass).map((p) => p.t)).toEqual([t]);
    // Half the remaining headroom stays within tolerance: the threshold is what decides.
    const small = tampered(trace, t, layer, index, beyond(row[index]!, (thresholds.maxAbs - thresholds.measured.maxAbs) / 2 - 2 ** -10));
    expect((await reexecuteLayer({ sessions: verifier, trace: small, layer })).pass).toBe(true);
  });

  it("flags a substituted output token in the sampler check", async () => {
    const tokens = [...trace.tokens];
    tokens[16] = (tokens[16]! + 1) % 256;
    const checks = await checkSampling({ sessions: verifier, trace: { tokens, row: (t, l) => trace.row(t, l) }, promptLength: 14, samplingParams: 0n, logitTolerance: 1e-3 });
    expect(checks.filter((c) => !c.pass).map((c) => c.t + 1)).toEqual([16]);
  });

  it("re-derives a sampled job's tokens on another setup and flags a substituted one", async () => {
    const samplingParams = encodeSamplingParams({ temperature: 0.8, seed: 99n });
    const job = await generate({ modelDir: dir, promptTokens: [256, ...Buffer.from("an honest job")], maxNewTokens: 10, samplingParams, trace: true, stopAtEos: false });
    const sampled = job.trace!;
    const honest = await checkSampling({ sessions: verifier, trace: sampled, promptLength: 14, samplingParams, logitTolerance: 1e-2 });
    expect(honest).toHaveLength(10);
    expect(honest.every((c) => c.pass), JSON.stringify(honest.filter((c) => !c.pass))).toBe(true);
    // Another seed draws other noise: the same tokens no longer follow the rule everywhere.
    const otherSeed = encodeSamplingParams({ temperature: 0.8, seed: 100n });
    expect((await checkSampling({ sessions: verifier, trace: sampled, promptLength: 14, samplingParams: otherSeed, logitTolerance: 1e-2 })).some((c) => !c.pass)).toBe(true);
    const tokens = [...sampled.tokens];
    const derived = honest.find((c) => c.t + 1 === 16)!.derived;
    tokens[16] = (derived + 1) % 256;
    const checks = await checkSampling({ sessions: verifier, trace: { tokens, row: (t, l) => sampled.row(t, l) }, promptLength: 14, samplingParams, logitTolerance: 1e-3 });
    expect(checks.filter((c) => !c.pass).map((c) => c.t + 1)).toEqual([16]);
  });
});
