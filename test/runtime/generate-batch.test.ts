import { describe, expect, it } from "vitest";
import { generate } from "../../runtime/generate.js";
import { generateBatch } from "../../runtime/generate-batch.js";
import { deviation } from "../../runtime/reexec.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { modelDir } from "./helpers.js";

describe("lockstep batching (PROTOCOL §4.2)", () => {
  it("gives each request the tokens and (up to rounding) the trace it gets alone", async () => {
    const dir = await modelDir();
    const requests = [
      { promptTokens: [256, ...Buffer.from("first!")], maxNewTokens: 8, samplingParams: 0n },
      { promptTokens: [256, ...Buffer.from("second")], maxNewTokens: 5, samplingParams: encodeSamplingParams({ temperature: 0.7, seed: 5n }), jobId: 11n },
      { promptTokens: [256, ...Buffer.from("third.")], maxNewTokens: 8, samplingParams: encodeSamplingParams({ temperature: 1.2, seed: 6n }), jobId: 12n },
    ];
    const batch = await generateBatch({ modelDir: dir, requests, trace: true, stopAtEos: false });
    expect(batch.results.map((r) => r.outputTokens.length)).toEqual([8, 5, 8]);
    for (const [i, req] of requests.entries()) {
      const alone = await generate({ modelDir: dir, ...req, trace: true, stopAtEos: false });
      const got = batch.results[i]!;
      expect(got.tokens).toEqual(alone.tokens);
      for (let t = 0; t < alone.tokens.length - 1; t++) {
        for (const l of [0, 2, 4]) expect(deviation(got.trace!.hiddenRow(t, l), alone.trace!.hiddenRow(t, l)).maxAbs).toBeLessThan(4e-3);
      }
    }
    await expect(generateBatch({ modelDir: dir, requests: [requests[0]!, { ...requests[1]!, promptTokens: [1, 2] }], trace: false })).rejects.toThrow(/same non-zero length/);
  });
});
