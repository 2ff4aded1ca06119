/**
 * Honest provers never lose on the real runtime: the stepproof-tiny package generates a trace
 * with onnxruntime (fp32 graphs and fp16 graphs, two thread counts; greedy and Gumbel-max sampled); the dispute code rebuilds
 * the trace and weights roots bit for bit, recomputes steps in float64 and the challenger's
 * full element search over every layer at several positions finds nothing provable.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { generate } from "../../runtime/generate.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { OP_NAMES } from "../../protocol/evaluator/layout.js";
import { judgeClaim } from "../../protocol/evaluator/judge.js";
import { opOf } from "../../protocol/evaluator/layout.js";
import { buildStep } from "../../protocol/dispute/step.js";
import { allClaims } from "../../protocol/dispute/scan.js";
import { chunkReader, judgeContext, type DisputeData } from "../../protocol/dispute/proofs.js";
import { traceTree, weightsTree, type Weights } from "../../protocol/dispute/model.js";
import type { EncodedTensor } from "../../protocol/dispute/tensors.js";
import { tolerances } from "./fixture.js";

describe("honest prover on the real tiny model", () => {
  it("trace and weights roots match the runtime; no element of any checked step is provable", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "stepproof-dispute-")), "tiny");
    await generateSyntheticModel({ preset: "tiny", dir, traceDtype: 1 });
    const w = await loadModelWeights(dir);
    const { architecture: arch, encoding } = w.manifest;
    const weights: Weights = new Map();
    for (const t of w.manifest.weights.tensors) {
      const c = w.tensor(t.tensorId);
      weights.set(t.tensorId, { rows: c.rows, rowLength: c.rowLength, dtype: 1, data: c.data } satisfies EncodedTensor);
    }
    const wt = weightsTree(weights, encoding.chunkSize);
    expect(wt.root).toBe(w.manifest.weightsRoot);
    const tol = tolerances();
    const worst = new Map<number, number>();
    let findings = 0;
    // Greedy on fp32 graphs, Gumbel-max (τ = 0.8, PROTOCOL §4.4) on fp16 graphs with 2 threads.
    const runs = [
      { session: { compute: "f32" as const, intraOpThreads: 1 }, samplingParams: 0n },
      { session: { compute: "f16" as const, intraOpThreads: 2 }, samplingParams: 0n },
      { session: { compute: "f16" as const, intraOpThreads: 2 }, samplingParams: encodeSamplingParams({ temperature: 0.8, seed: 7n }) },
    ];
    for (const { session, samplingParams } of runs) {
      const r = await generate({ modelDir: dir, promptTokens: [256, ...Buffer.from("stepproof")], maxNewTokens: 4, samplingParams, trace: true, stopAtEos: false, session });
      const trace = r.trace!;
      const N = r.tokens.length;
      const hidden: EncodedTensor[] = [];
      for (let l = 0; l <= arch.layers; l++) {
        const data = new Uint16Array((N - 1) * arch.hidden);
        for (let t = 0; t < N - 1; t++) data.set(trace.hiddenRow(t, l) as Uint16Array, t * arch.hidden);
        hidden.push({ rows: N - 1, rowLength: arch.hidden, dtype: 1, data });
      }
      const data: DisputeData = { arch, encoding: { traceDtype: 1, weightsDtype: 1, chunkSize: encoding.chunkSize }, weights, weightsTree: wt, trace: { tokens: r.tokens, hidden }, traceTree: traceTree({ tokens: r.tokens, hidden }, encoding.chunkSize) };
      expect(data.traceTree.root).toBe(trace.root);
      const promptLength = 10;
      for (const t of [0, 5, N - 2]) {
        // Blocks and embedding everywhere; the head step where t + 1 was generated.
        for (let l = 0; l <= arch.layers + (t + 1 >= promptLength ? 1 : 0); l++) {
          const step = l === 0 ? undefined : buildStep(arch, weights, data.trace, t, l, encoding.chunkSize);
          const d = { ...data, step };
          const read = chunkReader(d);
          const base = judgeContext(d, t, l, { atol: 0n, rtol: 0n }, { inputTokens: promptLength, samplingParams });
          for (const claim of allClaims(step?.dims ?? ({ d: arch.hidden } as never), l, arch.layers)) {
            const op = opOf(claim.tensor, l, arch.layers);
            const v = judgeClaim({ ...base, ...tol[op]! }, claim, read);
            if (v.fraud) findings++;
            const diff = op === 17 ? Math.max(0, Number(v.ref - v.claimed)) : Math.abs(Number(v.claimed - v.ref));
            worst.set(op, Math.max(worst.get(op) ?? 0, v.bound === 0n ? (diff === 0 ? 0 : Infinity) : diff / Number(v.bound)));
          }
        }
      }
    }
    await releaseAllSessions();
    console.log("largest |claimed − ref| / bound:", Object.fromEntries([...worst].map(([op, x]) => [OP_NAMES[op], x.toExponential(2)])));
    expect(findings).toBe(0);
  });
});
