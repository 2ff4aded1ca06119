/**
 * The sampling rule of PROTOCOL §4.4, as every party derives it: the `samplingParams` codec,
 * the Gumbel noise of each (position, vocabulary id) and the float64 Gumbel-max sampler the
 * runtime applies. The judge's exact fixed-point score is protocol/evaluator/ops.ts `score`,
 * built on `noiseWord` below. keccak is injected so the runtime can pass its wasm hasher and
 * this file stays free of runtime imports (the default is viem's).
 */
import { keccak256 } from "viem";
import { StepproofError } from "../errors.js";

/** samplingParams (uint256): bits 0..31 temperature (binary32 bits), 32..63 top-k, 64..127 seed. */
export type SamplingParams = { temperature: number; temperatureBits: number; topK: number; seed: bigint };

/** keccak-256 of a byte string (32-byte digest). */
export type Keccak256 = (data: Uint8Array) => Uint8Array;

export const viemKeccak256: Keccak256 = (data) => keccak256(data, "bytes");

export function decodeSamplingParams(params: bigint): SamplingParams {
  if (params < 0n || params >= 1n << 256n) throw new RangeError("samplingParams must be a uint256");
  const temperatureBits = Number(params & 0xffffffffn);
  const temperature = new Float32Array(new Uint32Array([temperatureBits]).buffer)[0]!;
  return { temperature, temperatureBits, topK: Number((params >> 32n) & 0xffffffffn), seed: (params >> 64n) & ((1n << 64n) - 1n) };
}

export function encodeSamplingParams(p: { temperature: number; topK?: number; seed?: bigint }): bigint {
  const bits = BigInt(new Uint32Array(new Float32Array([p.temperature]).buffer)[0]!);
  return bits | (BigInt(p.topK ?? 0) << 32n) | ((p.seed ?? 0n) << 64n);
}

/** The largest temperature openJob accepts (PROTOCOL §4.4). */
export const MAX_TEMPERATURE = 2 ** 16;

/**
 * Which rule a job follows: greedy iff τ is not a positive finite binary32 or k = 1; Gumbel-max
 * iff τ is, τ ≤ 2^16 and k = 0; anything else cannot be judged (openJob rejects it).
 */
export type SamplingRule = { kind: "greedy" } | { kind: "gumbel"; temperature: number; seed: bigint } | { kind: "unverifiable"; reason: string };

export function samplingRule(p: SamplingParams): SamplingRule {
  const positive = p.temperatureBits !== 0 && p.temperatureBits < 0x7f800000;
  if (!positive || p.topK === 1) return { kind: "greedy" };
  if (p.topK !== 0) return { kind: "unverifiable", reason: `top-k ${p.topK} (only 0 and 1 can be judged)` };
  if (p.temperature > MAX_TEMPERATURE) return { kind: "unverifiable", reason: `temperature ${p.temperature} above 2^16` };
  return { kind: "gumbel", temperature: p.temperature, seed: p.seed };
}

/** Length of a noise message; its group index is the last word's low 4 bytes. */
export const NOISE_MESSAGE_BYTES = 96;

/**
 * abi.encode(uint64 seed, uint256 p, uint256 group): 96 bytes, `group` = v / 4. The noise is
 * keyed by the client-signed seed alone, not a job id (PROTOCOL §4.4): a batched voucher job has
 * none until it is disputed.
 */
export function noiseMessage(seed: bigint, position: number, group: number): Uint8Array {
  const m = new Uint8Array(NOISE_MESSAGE_BYTES);
  const put = (word: number, x: bigint) => {
    for (let i = 31; i >= 0 && x > 0n; i--, x >>= 8n) m[32 * word + i] = Number(x & 0xffn);
  };
  put(0, seed);
  put(1, BigInt(position));
  put(2, BigInt(group));
  return m;
}

/** w of one digest: the top 53 bits of 64-bit word `k` (word 0 = most significant). Exact in a double. */
export function wordOf(digest: Uint8Array, k: number): number {
  const o = 8 * k;
  const hi = ((digest[o]! << 24) | (digest[o + 1]! << 16) | (digest[o + 2]! << 8) | digest[o + 3]!) >>> 0;
  const lo = ((digest[o + 4]! << 24) | (digest[o + 5]! << 16) | (digest[o + 6]! << 8) | digest[o + 7]!) >>> 0;
  return hi * 2 ** 21 + (lo >>> 11);
}

/** PROTOCOL §4.4 noise word of vocabulary id v at position p (StepOps.noiseWord). */
export function noiseWord(seed: bigint, position: number, v: number, keccak: Keccak256 = viemKeccak256): bigint {
  return BigInt(wordOf(keccak(noiseMessage(seed, position, Math.floor(v / 4))), v % 4));
}

/**
 * g = −ln(−ln u), u = (w + 0.5) / 2^53, in float64 without cancellation: u < 1/2 takes
 * ln(b·2^-54) with b = 2w + 1 exact; u ≥ 1/2 takes log1p(−m·2^-54), m = 2^54 − b exact (< 2^53).
 */
export function gumbelF64(w: number): number {
  const x = w < 2 ** 52 ? -Math.log((2 * w + 1) * 2 ** -54) : -Math.log1p(-(2 * (2 ** 53 - w) - 1) * 2 ** -54);
  return -Math.log(x);
}

/** Greedy: index of the largest logit, ties to the lowest token id. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let top = logits[0]!;
  for (let i = 1; i < logits.length; i++) {
    const x = logits[i]!;
    if (x > top) {
      top = x;
      best = i;
    }
  }
  return best;
}

/** A rule no one-step proof can check (top-k ∉ {0, 1}, τ > 2^16), so no job may use it. */
export class UnverifiableSamplingError extends StepproofError {
  override name = "UnverifiableSamplingError";
  constructor(readonly reason: string) {
    super(`sampling rule cannot be judged on-chain: ${reason}`, { details: "PROTOCOL §4.4: top-k 0 (Gumbel-max, τ ≤ 2^16) or 1 (greedy)" });
  }
}

/**
 * Token at `position` from the logits z computed at position − 1 (PROTOCOL §4.4):
 * greedy, or Gumbel-max argmax_v (z_v + τ·g(s, p, v)) in float64, ties to the lowest id.
 * One keccak per 4 vocabulary ids.
 */
export function sampleToken(logits: ArrayLike<number>, params: SamplingParams, position: number, keccak: Keccak256 = viemKeccak256): number {
  const rule = samplingRule(params);
  if (rule.kind === "greedy") return argmax(logits);
  if (rule.kind === "unverifiable") throw new UnverifiableSamplingError(rule.reason);
  const tau = rule.temperature;
  const msg = noiseMessage(rule.seed, position, 0);
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  // Only the last word (the group index) changes between groups; v < 2^32.
  const at = NOISE_MESSAGE_BYTES - 4;
  for (let group = 0; 4 * group < logits.length; group++) {
    msg[at] = group >>> 24;
    msg[at + 1] = (group >>> 16) & 0xff;
    msg[at + 2] = (group >>> 8) & 0xff;
    msg[at + 3] = group & 0xff;
    const digest = keccak(msg);
    for (let k = 0; k < 4 && 4 * group + k < logits.length; k++) {
      const v = 4 * group + k;
      const s = logits[v]! + tau * gumbelF64(wordOf(digest, k));
      if (s > bestScore) {
        bestScore = s;
        best = v;
      }
    }
  }
  return best;
}
