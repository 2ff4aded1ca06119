/**
 * Honest provers never lose when they serve through the fused serving graph and the continuous
 * batcher (PROTOCOL §4.2 "Serving"), exactly as with unbatched generation (runtime.test.ts,
 * stories15m.test.ts): traces of a ragged batch — prompts of different lengths, jobs joining
 * while others decode, greedy and Gumbel-max sampled, fp32 and fp16 serving graphs, 1 and 2
 * threads — rebuild to their committed roots, pass a verifier's layer checks (re-execution on
 * the package's split graphs within the calibrated thresholds), and no element of the checked
 * steps is provable by the exact judge with the registered tolerances.
 */
import { afterAll, describe, expect, it } from "vitest";
import { disputeDataFor } from "../../node-common/dispute-data.js";
import { allClaims } from "../../protocol/dispute/scan.js";
import { chunkReader, judgeContext, type DisputeData } from "../../protocol/dispute/proofs.js";
import { buildStep } from "../../protocol/dispute/step.js";
import { judgeClaim, type Claim } from "../../protocol/evaluator/judge.js";
import { dimsOf, Op, OP_NAMES, opOf, T } from "../../protocol/evaluator/layout.js";
import { recommendedTolerances } from "../../protocol/game/tolerances.js";
import { CATALOG } from "../../runtime/model/fetch/catalog.js";
import { readManifest } from "../../runtime/model/manifest.js";
import { Xoshiro128 } from "../../runtime/model/prng.js";
import { loadPackageTokenizer } from "../../runtime/model/tokenizer-files.js";
import { reexecuteLayer } from "../../runtime/reexec.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { ContinuousBatcher } from "../../runtime/serve/batcher.js";
import { ServeSession, type ServeSessionConfig } from "../../runtime/serve/serve-session.js";
import type { ServeRequest, ServeResult } from "../../runtime/serve/sequence.js";
import { ModelSessions, releaseAllSessions } from "../../runtime/session.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { modelDir } from "../runtime/helpers.js";
import { stories15M } from "../helpers/stories15m.js";
import { tolerances } from "./fixture.js";
import { blockClaims, headClaims } from "./real-steps.js";

type Job = { data: DisputeData; trace: TraceCommitment; inputTokens: number; samplingParams: bigint; setup: ServeSessionConfig };

/**
 * Serve `requests` as a ragged batch on `setup`: the first half at once, each later one when
 * request 0 (which must outlast them) has sampled 2 more tokens; returns each job's dispute data (rebuilt to its root).
 */
async function serveRagged(dir: string, setup: ServeSessionConfig, requests: ServeRequest[]): Promise<Job[]> {
  const session = await ServeSession.load(dir, setup);
  const batcher = new ContinuousBatcher(session, { maxBatch: requests.length });
  const half = Math.ceil(requests.length / 2);
  const later: Promise<ServeResult>[] = [];
  const results = requests.slice(0, half).map((r, i) =>
    batcher.submit({
      ...r,
      ...(i === 0 ? { onToken: (_: number, k: number) => void (k % 2 === 1 && half + later.length < requests.length && later.push(batcher.submit(requests[half + later.length]!))) } : {}),
    }),
  );
  const served = [...(await Promise.all(results)), ...(await Promise.all(later))];
  expect(served).toHaveLength(requests.length);
  expect(batcher.stats.stepSequences / batcher.stats.steps).toBeGreaterThan(1.5);
  await session.release();
  return Promise.all(
    served.map(async (r, i) => {
      const trace = r.trace!;
      const data = await disputeDataFor(dir, { tokens: r.tokens, row: (t, l) => trace.hiddenRow(t, l) }, trace.root);
      return { data, trace, inputTokens: requests[i]!.promptTokens.length, samplingParams: requests[i]!.samplingParams, setup };
    }),
  );
}

/** Layer checks of every job on a verifier's split-graph setup; returns the worst ratio to the thresholds. */
async function layerChecks(dir: string, jobs: Job[], thresholds: { maxAbs: number; relL2: number }): Promise<number> {
  const verifiers = await Promise.all((["f16", "f32"] as const).map((compute) => ModelSessions.load(dir, { compute, intraOpThreads: 1 })));
  let worst = 0;
  for (const [i, job] of jobs.entries()) {
    // The verifier runs the other compute dtype than the prover served with.
    const sessions = verifiers[job.setup.compute === "f16" ? 1 : 0]!;
    for (let l = 0; l <= job.data.arch.layers; l++) {
      const r = await reexecuteLayer({ sessions, trace: job.trace, layer: l, thresholds });
      worst = Math.max(worst, r.maxRelL2 / thresholds.relL2, r.maxAbs / thresholds.maxAbs);
      expect(r.firstFailure, `job ${i} layer ${l}`).toBeNull();
    }
  }
  await Promise.all(verifiers.map((s) => s.release()));
  return worst;
}

describe("honest provers never lose when serving through the continuous batcher", async () => {
  afterAll(releaseAllSessions);

  it("tiny: ragged batches on two setups; every element of every checked step is unprovable", async () => {
    const dir = await modelDir();
    const manifest = await readManifest(dir);
    const { layers } = manifest.architecture;
    const tol = tolerances();
    const prompts = ["a", "stepproof", "ragged batch", "x y", "joins while the others decode"];
    const jobs: Job[] = [];
    const setups: ServeSessionConfig[] = [
      { compute: "f32", threads: 1 },
      { compute: "f16", threads: 2, spinning: false },
    ];
    for (const [s, setup] of setups.entries()) {
      const requests = prompts.map((p, i) => ({
        promptTokens: [256, ...Buffer.from(p)],
        maxNewTokens: i === 0 ? 8 : 3 + ((i + s) % 4),
        // A seed per job, as clients draw them (PROTOCOL §4.4).
        samplingParams: (i + s) % 2 === 0 ? 0n : encodeSamplingParams({ temperature: 0.8, seed: BigInt(100 * s + i + 1) }),
        trace: true,
        stopAtEos: false,
      }));
      jobs.push(...(await serveRagged(dir, setup, requests)));
    }
    await layerChecks(dir, jobs, manifest.thresholds ?? { maxAbs: 4e-3, relL2: 4e-3 });
    let findings = 0;
    let steps = 0;
    for (const job of jobs) {
      const N = job.data.trace.tokens.length;
      for (const t of new Set([0, job.inputTokens - 1, N - 2])) {
        // Embedding and blocks everywhere; the head where t + 1 was generated.
        for (let l = 0; l <= layers + (t + 1 >= job.inputTokens ? 1 : 0); l++) {
          steps++;
          const step = l === 0 ? undefined : buildStep(job.data.arch, job.data.weights, job.data.trace, t, l, job.data.encoding.chunkSize);
          const d = { ...job.data, step };
          const read = chunkReader(d);
          const base = judgeContext(d, t, l, { atol: 0n, rtol: 0n }, { inputTokens: job.inputTokens, samplingParams: job.samplingParams });
          for (const claim of allClaims(step?.dims ?? ({ d: job.data.arch.hidden } as never), l, layers)) {
            if (judgeClaim({ ...base, ...tol[opOf(claim.tensor, l, layers)]! }, claim, read).fraud) findings++;
          }
        }
      }
    }
    expect(steps).toBeGreaterThan(100);
    expect(findings).toBe(0);
  }, 300_000);

  const model = await stories15M();
  it.skipIf(!model)("stories15M: 400 random steps of ragged batches on two setups have no provable element", async () => {
    const dir = model!.dir;
    const STEPS = 400;
    const tokenizer = await loadPackageTokenizer(dir);
    const manifest = await readManifest(dir);
    const { layers } = manifest.architecture;
    const tol = recommendedTolerances(CATALOG["stories15M"]!.layerOut);
    const prompts = ["Once upon a time, there was", "The cat", "Ben had a red ball. He liked to play with it in the", "One day, Lily went"];
    const jobs: Job[] = [];
    for (const [s, setup] of ([{ compute: "f32", threads: 1 }, { compute: "f16", threads: 2, spinning: false }] as ServeSessionConfig[]).entries()) {
      const requests = prompts.map((p, i) => ({
        promptTokens: tokenizer.encode(p),
        maxNewTokens: 8 + 3 * i,
        samplingParams: i % 2 === s % 2 ? 0n : encodeSamplingParams({ temperature: 0.6 + 0.2 * i, seed: BigInt(41 + 10 * s + i) }),
        trace: true,
        stopAtEos: false,
      }));
      jobs.push(...(await serveRagged(dir, setup, requests)));
    }
    expect(jobs[0]!.data.weightsTree.root).toBe(manifest.weightsRoot);
    const worstReexec = await layerChecks(dir, jobs, manifest.thresholds ?? { maxAbs: 1.5625e-2, relL2: 4.943e-3 });

    const all = jobs.flatMap((job, j) => Array.from({ length: (job.data.trace.tokens.length - 1) * (layers + 2) }, (_, k) => ({ j, t: Math.floor(k / (layers + 2)), l: k % (layers + 2) })));
    const rng = new Xoshiro128(2026, 11);
    for (let i = all.length - 1; i > 0; i--) {
      const k = rng.nextUint32() % (i + 1);
      [all[i], all[k]] = [all[k]!, all[i]!];
    }
    const worst = new Map<number, number>();
    const findings: string[] = [];
    for (const { j, t, l } of all.slice(0, STEPS)) {
      const job = jobs[j]!;
      const step = l === 0 ? undefined : buildStep(job.data.arch, job.data.weights, job.data.trace, t, l, job.data.encoding.chunkSize);
      const data = { ...job.data, step };
      const read = chunkReader(data);
      const base = judgeContext(data, t, l, { atol: 0n, rtol: 0n }, { inputTokens: job.inputTokens, samplingParams: job.samplingParams });
      const m = dimsOf(job.data.arch, t, job.data.encoding.chunkSize);
      const claims: Iterable<Claim> =
        l === 0 ? allClaims(m, 0, layers)
        : l <= layers ? blockClaims(m, rng, 2)
        : headClaims(m, step!, job.data.trace.tokens[t + 1]!, t, job.samplingParams, rng, 2);
      for (const claim of claims) {
        // A prompt token was given, not chosen: its ARGMAX claims are invalid (PROTOCOL §6.2).
        if (claim.tensor === T.ARGMAX && t + 1 < job.inputTokens) continue;
        const op = opOf(claim.tensor, l, layers);
        const v = judgeClaim({ ...base, ...tol[op]! }, claim, read);
        if (v.fraud) findings.push(`job ${j} t ${t} l ${l} ${OP_NAMES[op]} ${JSON.stringify(claim)}`);
        const diff = op === Op.HEAD_ARGMAX ? Math.max(0, Number(v.ref - v.claimed)) : Math.abs(Number(v.claimed - v.ref));
        worst.set(op, Math.max(worst.get(op) ?? 0, v.bound === 0n ? (diff === 0 ? 0 : Infinity) : diff / Number(v.bound)));
      }
    }
    console.log(`serving: ${STEPS} steps; worst re-execution / threshold ${worstReexec.toFixed(3)}`);
    console.log("largest |claimed − ref| / bound:", Object.fromEntries([...worst].map(([op, x]) => [OP_NAMES[op], x.toExponential(2)])));
    expect(findings).toEqual([]);
  }, 600_000);
});
