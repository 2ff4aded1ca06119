import { encodeAbiParameters, hexToBigInt, keccak256 } from "viem";

/**
 * Sampling rule of PROTOCOL §4.4, re-derivable by any verifier from the job's samplingParams.
 *
 * samplingParams (uint256): bits 0..31 temperature (binary32 bits), 32..63 top-k, 64..127 seed.
 */
export type SamplingParams = { temperature: number; temperatureBits: number; topK: number; seed: bigint };

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

/** Greedy: index of the largest logit, ties to the lowest token id. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** u ∈ [0, 1): top 53 bits of keccak256(abi.encode(uint64 seed, uint256 position)) / 2^53. */
export function samplingUniform(seed: bigint, position: number): number {
  const h = hexToBigInt(keccak256(encodeAbiParameters([{ type: "uint64" }, { type: "uint256" }], [seed, BigInt(position)])));
  return Number(h >> 203n) / 2 ** 53;
}

/**
 * Token at `position` from the logits computed at position - 1.
 * - temperature is 0, NaN, negative or not finite, or top-k = 1: argmax (ties to lowest id).
 * - otherwise: candidates = the top-k token ids by logit (all when k = 0), ordered by logit
 *   descending, ties by id ascending; weights w_i = exp((z_i − z_max) / T) in float64;
 *   the token is the first candidate whose running sum of weights exceeds u · Σw, with u from
 *   samplingUniform(seed, position); the last candidate if rounding leaves none.
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, position: number): number {
  const T = params.temperature;
  if (!(T > 0) || !Number.isFinite(T) || params.topK === 1) return argmax(logits);
  const cand = topCandidates(logits, params.topK);
  const zmax = logits[cand[0]!]!;
  const w = cand.map((i) => Math.exp((logits[i]! - zmax) / T));
  const total = w.reduce((s, x) => s + x, 0);
  const target = samplingUniform(params.seed, position) * total;
  let acc = 0;
  for (let j = 0; j < cand.length; j++) {
    acc += w[j]!;
    if (acc > target) return cand[j]!;
  }
  return cand[cand.length - 1]!;
}

/** Candidate order of PROTOCOL §4.4: logit descending, id ascending; the first k (all if 0). */
export function topCandidates(logits: Float32Array, topK: number): number[] {
  const before = (a: number, b: number) => logits[a]! > logits[b]! || (logits[a]! === logits[b]! && a < b);
  const V = logits.length;
  if (topK === 0 || topK >= V) {
    const ids = Array.from({ length: V }, (_, i) => i);
    return ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
  }
  // Top-k by one pass with a sorted buffer of k ids (k is small in practice): O(V·k) worst case,
  // O(V) typically, instead of sorting the whole vocabulary every token.
  const best: number[] = [];
  for (let i = 0; i < V; i++) {
    if (best.length === topK && !before(i, best[topK - 1]!)) continue;
    let j = best.length === topK ? topK - 1 : best.length;
    if (best.length < topK) best.push(i);
    while (j > 0 && before(i, best[j - 1]!)) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  return best;
}
