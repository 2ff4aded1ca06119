import { halfBitsToFloat } from "../protocol/encoding/index.js";
import { StepproofRuntimeError } from "./errors.js";
import { embed, emptyKvCache, headLogits, runBlock, type HiddenData } from "./forward.js";
import type { LayerThresholds } from "./model/manifest.js";
import { noiseWord } from "../protocol/sampling/rule.js";
import { decodeSamplingParams, gumbelF64, sampleToken, samplingRule } from "./sampling.js";
import { ModelSessions, type SessionConfig } from "./session.js";
import type { HiddenRowSource } from "./trace/commitment.js";

/**
 * Layer-level re-execution (PROTOCOL §4.6): recompute boundary l for every position of a trace
 * in one prefill pass from the claimed h[·][l−1] (or from the tokens for l = 0) and measure,
 * per position, max-abs and relative-L2 deviation from the claimed h[·][l]. A verdict beyond
 * threshold means "look closer" (fetch the step and run the exact evaluator), never "slash".
 */
export type PositionDeviation = { t: number; maxAbs: number; relL2: number; pass: boolean };

export type ReexecuteLayerReturnType = {
  layer: number;
  positions: PositionDeviation[];
  maxAbs: number;
  maxRelL2: number;
  /** First position beyond threshold, or null. */
  firstFailure: number | null;
  pass: boolean;
  ms: number;
};

/** A trace as re-execution needs it: the N tokens and rows h[t][l] for t = 0..N-2. */
export type ReplayableTrace = HiddenRowSource & { tokens: readonly number[] };

export class ReexecutionError extends StepproofRuntimeError {
  override name = "ReexecutionError";
}

function decode(row: HiddenData): Float64Array {
  const out = new Float64Array(row.length);
  if (row instanceof Uint16Array) for (let i = 0; i < row.length; i++) out[i] = halfBitsToFloat(row[i]!);
  else out.set(row);
  return out;
}

/** max_i |c_i − r_i| and ‖c − r‖₂ / ‖r‖₂ (denominator floored at 1e-30). */
export function deviation(claimed: HiddenData, recomputed: HiddenData): { maxAbs: number; relL2: number } {
  const c = decode(claimed);
  const r = decode(recomputed);
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < c.length; i++) {
    const d = c[i]! - r[i]!;
    // NaN or inf in a claimed state is a deviation of infinite size.
    const a = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.abs(d);
    if (a > maxAbs) maxAbs = a;
    num += a * a;
    den += r[i]! * r[i]!;
  }
  return { maxAbs, relL2: Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30) };
}

function concatRows(rows: HiddenData[]): HiddenData {
  const n = rows.reduce((s, r) => s + r.length, 0);
  const out = rows[0] instanceof Uint16Array ? new Uint16Array(n) : new Float32Array(n);
  let o = 0;
  for (const r of rows) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}

export type ReexecuteLayerParameters = {
  /** Sessions of the verifier's own setup (ModelSessions.load(dir, config, [layer])). */
  sessions: ModelSessions;
  trace: ReplayableTrace;
  /** 0 = embedding (checked against the tokens), 1..L = block l. */
  layer: number;
  /** Default: the manifest's calibrated thresholds. */
  thresholds?: Pick<LayerThresholds, "maxAbs" | "relL2">;
};

export async function reexecuteLayer(p: ReexecuteLayerParameters): Promise<ReexecuteLayerReturnType> {
  const { sessions: s, trace, layer } = p;
  const L = s.manifest.architecture.layers;
  if (!Number.isInteger(layer) || layer < 0 || layer > L) throw new ReexecutionError(`layer ${layer} out of range [0, ${L}]`);
  const thresholds = p.thresholds ?? s.manifest.thresholds;
  if (!thresholds) throw new ReexecutionError(`model ${s.manifest.name} has no calibrated thresholds`, { details: "run `npm run calibrate` or pass thresholds" });
  const n = trace.tokens.length - 1;
  if (n < 1) throw new ReexecutionError("a trace needs at least two tokens");
  const started = performance.now();
  let out: HiddenData;
  if (layer === 0) out = await embed(s, trace.tokens.slice(0, n));
  else {
    const input = concatRows(Array.from({ length: n }, (_, t) => trace.row(t, layer - 1)));
    out = (await runBlock(s, layer, input, Array.from({ length: n }, (_, t) => t), emptyKvCache(s))).hidden;
  }
  const ms = performance.now() - started;
  const d = s.manifest.architecture.hidden;
  const positions = Array.from({ length: n }, (_, t) => {
    const dev = deviation(trace.row(t, layer), out.subarray(t * d, (t + 1) * d));
    return { t, ...dev, pass: dev.maxAbs <= thresholds.maxAbs && dev.relL2 <= thresholds.relL2 };
  });
  const fail = positions.find((x) => !x.pass);
  return {
    layer,
    positions,
    maxAbs: Math.max(...positions.map((x) => x.maxAbs)),
    maxRelL2: Math.max(...positions.map((x) => x.relL2)),
    firstFailure: fail ? fail.t : null,
    pass: !fail,
    ms,
  };
}

/** `scoreGap`: score[derived] − score[claimed] in float64 (score = z, or z + τ·g for a sampled job). */
export type SamplingCheck = { t: number; claimed: number; derived: number; scoreGap: number; pass: boolean };

/**
 * LM head + sampler check (PROTOCOL §4.4, §4.6), greedy and sampled jobs alike: for every output
 * position t+1 ≥ promptLength, recompute logits from the prover's h[t][L] and re-derive the token
 * with the job's rule. A different token passes only when the derived token's score beats the
 * committed one's by at most `logitTolerance` (a near tie that rounding can flip); a failure is
 * the signal to dispute the head step (t, L + 1) with its HEAD_ARGMAX claim.
 */
export async function checkSampling(p: { sessions: ModelSessions; trace: ReplayableTrace; promptLength: number; samplingParams: bigint; logitTolerance: number }): Promise<SamplingCheck[]> {
  const { sessions: s, trace } = p;
  const L = s.manifest.architecture.layers;
  const params = decodeSamplingParams(p.samplingParams);
  const rule = samplingRule(params);
  if (rule.kind === "unverifiable") throw new ReexecutionError(`sampling rule cannot be judged: ${rule.reason} (PROTOCOL §4.4)`);
  const tau = rule.kind === "gumbel" ? rule.temperature : 0;
  const first = p.promptLength - 1;
  const n = trace.tokens.length - 1 - first;
  if (n < 1) return [];
  const rows = concatRows(Array.from({ length: n }, (_, i) => trace.row(first + i, L)));
  const logits = await headLogits(s, rows, n);
  const V = s.manifest.architecture.vocab;
  return Array.from({ length: n }, (_, i) => {
    const z = logits.subarray(i * V, (i + 1) * V);
    const t = first + i;
    const claimed = trace.tokens[t + 1]!;
    const derived = sampleToken(z, params, t + 1);
    const scoreOf = (v: number) => (tau === 0 ? z[v]! : z[v]! + tau * gumbelF64(Number(noiseWord(rule.kind === "gumbel" ? rule.seed : 0n, t + 1, v))));
    const scoreGap = claimed === derived ? 0 : scoreOf(derived) - (claimed < V ? scoreOf(claimed) : Number.NEGATIVE_INFINITY);
    return { t, claimed, derived, scoreGap, pass: claimed === derived || scoreGap <= p.logitTolerance };
  });
}

/** Convenience: sessions for one layer of a package under a verifier setup. */
export function loadVerifierSessions(modelDir: string, config: SessionConfig, layers: number[]): Promise<ModelSessions> {
  return ModelSessions.load(modelDir, config, layers);
}
