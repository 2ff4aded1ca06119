import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { detectionProbability, sampleLayers, shouldCheckJob } from "../../verifier-node/sampling.js";

const secret = keccak256(toHex("verifier secret"));

describe("sampling policy", () => {
  it("checks about jobFraction of jobs, deterministically per secret", () => {
    const policy = { jobFraction: 0.25, layersPerJob: 2 };
    let checked = 0;
    for (let id = 1n; id <= 4000n; id++) if (shouldCheckJob(secret, id, policy)) checked++;
    // Binomial(4000, 0.25): mean 1000, sd ≈ 27; 5 sd either side.
    expect(checked).toBeGreaterThan(860);
    expect(checked).toBeLessThan(1140);
    expect(shouldCheckJob(secret, 17n, policy)).toBe(shouldCheckJob(secret, 17n, policy));
    expect(() => shouldCheckJob(secret, 1n, { jobFraction: 0, layersPerJob: 1 })).toThrow(RangeError);
  });

  it("picks distinct layers uniformly over 0..L", () => {
    const counts = new Array(5).fill(0);
    for (let id = 1n; id <= 3000n; id++) {
      const layers = sampleLayers(secret, id, 4, { jobFraction: 1, layersPerJob: 2 });
      expect(new Set(layers).size).toBe(2);
      for (const l of layers) counts[l]++;
    }
    // Each of 5 boundaries is picked with p = 2/5: mean 1200 of 3000.
    for (const c of counts) expect(Math.abs(c - 1200)).toBeLessThan(150);
    const other = keccak256(toHex("another secret"));
    const same = [...Array(50).keys()].filter((i) => sampleLayers(secret, BigInt(i), 4, { jobFraction: 1, layersPerJob: 1 })[0] === sampleLayers(other, BigInt(i), 4, { jobFraction: 1, layersPerJob: 1 })[0]).length;
    expect(same).toBeLessThan(25); // a different secret gives different choices
  });

  it("reports the detection probability of the policy", () => {
    const p = detectionProbability({ jobFraction: 0.5, layersPerJob: 2 }, 4, 3);
    expect(p.perJob).toBeCloseTo(0.5 * (2 / 5));
    expect(p.overJobs).toBeCloseTo(1 - (1 - 0.2) ** 3);
  });
});
