/**
 * The runtime's Gumbel-max sampler (PROTOCOL §4.4): the wasm-keccak sampler picks exactly what
 * the spec function with viem's keccak picks, its float64 noise agrees with the judge's
 * fixed-point noise far inside the tolerance, and it hashes one noise digest per 4 ids.
 */
import { encodeAbiParameters, toBytes } from "viem";
import { describe, expect, it, vi } from "vitest";
import * as fx from "../../protocol/evaluator/fixed.js";
import { gumbelF64, noiseMessage, noiseWord, sampleToken as specSample, wordOf } from "../../protocol/sampling/rule.js";
import { createKeccak256, KeccakWasm } from "../../runtime/commit/keccak-wasm.js";
import { decodeSamplingParams, encodeSamplingParams, sampleToken } from "../../runtime/sampling.js";
import { gaussian, rng } from "../../protocol/dispute/synthetic.js";

const g = gaussian(rng(0x5a3));

describe("runtime Gumbel-max sampler", () => {
  it("the noise message is abi.encode(uint64 seed, uint256 p, uint256 v / 4): the seed alone keys it", () => {
    for (const [seed, p, group] of [[0n, 0, 0], [5n, 1234, 99], [2n ** 64n - 1n, 2 ** 31, 2 ** 32 - 1]] as const) {
      const m = noiseMessage(seed, p, group);
      expect(m.byteLength).toBe(96);
      expect(m).toEqual(toBytes(encodeAbiParameters([{ type: "uint64" }, { type: "uint256" }, { type: "uint256" }], [seed, BigInt(p), BigInt(group)])));
    }
  });

  it("wasm keccak and viem keccak give the same noise words and the same tokens", () => {
    const wasm = createKeccak256();
    for (let v = 0; v < 400; v += 7) {
      const digest = wasm(noiseMessage(2n ** 64n - 5n, 1234, Math.floor(v / 4)));
      expect(BigInt(wordOf(digest, v % 4))).toBe(noiseWord(2n ** 64n - 5n, 1234, v));
    }
    for (let trial = 0; trial < 36; trial++) {
      const z = Float32Array.from({ length: trial % 6 === 5 ? 32_000 : 259 + (trial % 4) }, () => g() * 2);
      const params = decodeSamplingParams(encodeSamplingParams({ temperature: [0.8, 1, 0.2][trial % 3]!, seed: BigInt(trial) * 0x9e3779b97f4a7c15n % 2n ** 64n }));
      expect(sampleToken(z, params, 10 + trial)).toBe(specSample(z, params, 10 + trial));
    }
  });

  it("two seeds draw different token sequences from the same logits; one seed always the same", () => {
    const z = Float32Array.from({ length: 259 }, () => g());
    const sequence = (seed: bigint) => {
      const params = decodeSamplingParams(encodeSamplingParams({ temperature: 1, seed }));
      return Array.from({ length: 24 }, (_, i) => sampleToken(z, params, 10 + i));
    };
    const a = sequence(7n);
    expect(sequence(7n)).toEqual(a);
    expect(a.map((_, i) => specSample(z, decodeSamplingParams(encodeSamplingParams({ temperature: 1, seed: 7n })), 10 + i))).toEqual(a);
    for (const other of [8n, 0n, 2n ** 64n - 1n, 7n + (1n << 63n)]) expect(sequence(other), `seed ${other}`).not.toEqual(a);
    // Within a sequence the noise changes with the position: not one token repeated.
    expect(new Set(a).size).toBeGreaterThan(1);
  });

  it("float64 noise agrees with the judge's gumbelQ48 within 2^-47 on the words a job draws", () => {
    const wasm = createKeccak256();
    let worst = 0;
    for (let group = 0; group < 2500; group++) {
      const digest = wasm(noiseMessage(77n, 300, group));
      for (let k = 0; k < 4; k++) {
        const w = wordOf(digest, k);
        worst = Math.max(worst, Math.abs(gumbelF64(w) - Number(fx.gumbelQ48(BigInt(w))) / 2 ** 48));
      }
    }
    // τ ≤ 2^16 and two ids per comparison: at most 2^-30 of a score, = atol; in practice τ ~ 1.
    expect(worst).toBeLessThan(2 ** -47);
  });

  it("costs one keccak per 4 ids per token, in one call into wasm (vocab 259 and 32,000)", () => {
    // The count, not a wall-clock bound (tests never time): its speed is PROTOCOL §4.4's figure.
    const params = decodeSamplingParams(encodeSamplingParams({ temperature: 0.8, seed: 1n }));
    const calls = vi.spyOn(KeccakWasm.prototype, "noiseDigests");
    try {
      for (const V of [259, 32_000]) {
        calls.mockClear();
        const z = Float32Array.from({ length: V }, () => g() * 3);
        for (let i = 0; i < 5; i++) sampleToken(z, params, 1000 + i);
        expect(calls.mock.calls.map(([, first, count]) => [first, count])).toEqual(Array.from({ length: 5 }, () => [0, Math.ceil(V / 4)]));
      }
    } finally {
      calls.mockRestore();
    }
  });
});
