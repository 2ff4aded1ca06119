import { randomBytes } from "node:crypto";
import { encodeSamplingParams } from "../protocol/sampling/rule.js";
import { ClientError } from "./errors.js";

/**
 * A caller's sampling request: temperature (0 = greedy), top-k (PROTOCOL §4.4: 0 or 1 can be
 * judged) and an optional 64-bit seed.
 */
export type SamplingRequest = { temperature: number; topK?: number; seed?: bigint };

/** A fresh uniformly random 64-bit seed. */
export function freshSeed(): bigint {
  return randomBytes(8).readBigUInt64BE();
}

/**
 * The job's samplingParams (PROTOCOL §4.4 packing): a bigint is taken as is; a request is encoded
 * with its seed, or with a fresh random seed when it samples (temperature > 0) and gives none.
 * The Gumbel noise is keyed by the seed alone, so jobs sharing a seed share their noise: a fresh
 * seed per job keeps jobs independent, and a given seed with the same prompt reproduces the output.
 */
export function resolveSamplingParams(s: bigint | SamplingRequest | undefined): bigint {
  if (s === undefined) return 0n;
  if (typeof s === "bigint") return s;
  const seed = s.seed ?? (s.temperature > 0 ? freshSeed() : 0n);
  if (seed < 0n || seed >= 1n << 64n) throw new ClientError(`the sampling seed must be a 64-bit unsigned integer, got ${seed}`);
  if (s.topK !== undefined && (!Number.isInteger(s.topK) || s.topK < 0 || s.topK >= 2 ** 32)) throw new ClientError(`top-k must be a 32-bit unsigned integer, got ${s.topK}`);
  return encodeSamplingParams({ temperature: s.temperature, ...(s.topK !== undefined ? { topK: s.topK } : {}), seed });
}
