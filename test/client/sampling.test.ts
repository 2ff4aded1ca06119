import { describe, expect, it } from "vitest";
import { ClientError } from "../../client/errors.js";
import { resolveSamplingParams } from "../../client/sampling.js";
import { decodeSamplingParams, encodeSamplingParams } from "../../protocol/sampling/rule.js";

/**
 * The client's samplingParams (PROTOCOL §4.4): the noise is keyed by the seed alone, so a sampled
 * request without a seed gets a fresh random 64-bit one per job; a given seed is signed as is.
 */
describe("client sampling params", () => {
  it("draws a fresh 64-bit seed per sampled job when none is given", () => {
    const drawn = Array.from({ length: 64 }, () => decodeSamplingParams(resolveSamplingParams({ temperature: 0.8 })));
    for (const d of drawn) expect(d).toMatchObject({ temperature: expect.closeTo(0.8, 6), topK: 0 });
    const seeds = new Set(drawn.map((d) => d.seed));
    expect(seeds.size).toBe(64);
    for (const s of seeds) expect(s >= 0n && s < 1n << 64n).toBe(true);
    // Uniform over 64 bits: some seed needs more than 53 bits (probability 1 − 2^-704 otherwise).
    expect([...seeds].some((s) => s >= 1n << 53n)).toBe(true);
  });

  it("passes a given seed and a packed bigint through; greedy requests stay as given", () => {
    expect(resolveSamplingParams({ temperature: 0.8, seed: 7n })).toBe(encodeSamplingParams({ temperature: 0.8, seed: 7n }));
    expect(resolveSamplingParams({ temperature: 0.8, seed: 0n })).toBe(encodeSamplingParams({ temperature: 0.8, seed: 0n }));
    expect(resolveSamplingParams({ temperature: 0.8, seed: 2n ** 64n - 1n })).toBe(encodeSamplingParams({ temperature: 0.8, seed: 2n ** 64n - 1n }));
    const packed = encodeSamplingParams({ temperature: 1.5, seed: 99n });
    expect(resolveSamplingParams(packed)).toBe(packed);
    expect(resolveSamplingParams(undefined)).toBe(0n);
    expect(resolveSamplingParams({ temperature: 0 })).toBe(0n);
  });

  it("refuses a seed outside 64 bits", () => {
    expect(() => resolveSamplingParams({ temperature: 0.8, seed: 1n << 64n })).toThrow(ClientError);
    expect(() => resolveSamplingParams({ temperature: 0.8, seed: -1n })).toThrow(ClientError);
  });
});
