/**
 * Continuous batching over the serving graph (PROTOCOL §4.2 "Serving"): a ragged batch —
 * prompts of different lengths, sequences joining while others decode and leaving at different
 * times (a leaving slot is refilled by the last one) — gives every request the tokens it gets
 * alone, greedy and sampled, and a trace of its own that commits like an unbatched one: same
 * layout, its root rebuilt from its rows, hidden states within rounding of the split graphs'.
 */
import { afterAll, describe, expect, it } from "vitest";
import { traceTree } from "../../protocol/dispute/model.js";
import type { EncodedTensor } from "../../protocol/dispute/tensors.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { generate } from "../../runtime/generate.js";
import { deviation } from "../../runtime/reexec.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { BatcherFullError, ContinuousBatcher } from "../../runtime/serve/batcher.js";
import { ServeSession } from "../../runtime/serve/serve-session.js";
import type { ServeRequest, ServeResult } from "../../runtime/serve/sequence.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { modelDir } from "./helpers.js";

const prompt = (s: string) => [256, ...Buffer.from(s)];

const REQUESTS: ServeRequest[] = [
  { promptTokens: prompt("a"), maxNewTokens: 9, samplingParams: 0n, trace: true },
  { promptTokens: prompt("a longer prompt"), maxNewTokens: 4, samplingParams: encodeSamplingParams({ temperature: 0.7, seed: 5n }), trace: true },
  { promptTokens: prompt("mid size"), maxNewTokens: 12, samplingParams: 0n, trace: true },
  { promptTokens: prompt("joins later, sampled"), maxNewTokens: 7, samplingParams: encodeSamplingParams({ temperature: 1.2, seed: 6n }), trace: true },
  { promptTokens: prompt("xy"), maxNewTokens: 3, samplingParams: 0n, trace: true },
];

/** Submit 0..2 at once, 3 when request 0 has sampled 2 tokens, 4 when request 2 has sampled 5. */
async function ragged(batcher: ContinuousBatcher): Promise<ServeResult[]> {
  const late: Promise<ServeResult>[] = [];
  const onToken = (i: number, at: number, join: number) => (_: number, index: number) => {
    if (index === at) late[join - 3] = batcher.submit({ ...REQUESTS[join]!, stopAtEos: false });
  };
  const first = [
    batcher.submit({ ...REQUESTS[0]!, stopAtEos: false, onToken: onToken(0, 2, 3) }),
    batcher.submit({ ...REQUESTS[1]!, stopAtEos: false }),
    batcher.submit({ ...REQUESTS[2]!, stopAtEos: false, onToken: onToken(2, 5, 4) }),
  ];
  const done = await Promise.all(first);
  return [...done, ...(await Promise.all(late))];
}

/** The trace root as the dispute code rebuilds it from the rows (independent of the runtime's hashing). */
function rebuiltRoot(trace: TraceCommitment): string {
  const { layers, hidden, chunkSize } = trace.layout;
  const N = trace.tokens.length;
  const rows: EncodedTensor[] = [];
  for (let l = 0; l <= layers; l++) {
    const data = new Uint16Array((N - 1) * hidden);
    for (let t = 0; t < N - 1; t++) data.set(trace.hiddenRow(t, l) as Uint16Array, t * hidden);
    rows.push({ rows: N - 1, rowLength: hidden, dtype: 1, data });
  }
  return traceTree({ tokens: [...trace.tokens], hidden: rows }, chunkSize).root;
}

describe("continuous batching (PROTOCOL §4.2 Serving)", () => {
  afterAll(releaseAllSessions);

  for (const compute of ["f32", "f16"] as const) {
    it(`${compute}: a ragged batch gives each request the tokens it gets alone; each trace commits on its own`, async () => {
      const dir = await modelDir();
      const session = await ServeSession.load(dir, { threads: 1, compute });
      const batcher = new ContinuousBatcher(session, { maxBatch: 4 });
      const results = await ragged(batcher);
      // Request 3 joined while 0..2 decoded; 4 joined after 1 left: at most 4 slots at once.
      expect(batcher.stats.prefills).toBe(5);
      expect(batcher.stats.stepSequences / batcher.stats.steps).toBeGreaterThan(1.5);
      expect(batcher.kv.used).toBe(0);
      for (const [i, req] of REQUESTS.entries()) {
        const got = results[i]!;
        const alone = await generate({ modelDir: dir, ...req, stopAtEos: false, session: { compute } });
        expect(got.outputTokens, `request ${i}`).toEqual(alone.outputTokens);
        expect(got.tokens).toEqual(alone.tokens);
        const a = alone.trace!;
        const b = got.trace!;
        // Same root structure: layout, leaf count, token leaves; the root is the tree of its own leaves.
        expect(b.layout).toEqual(a.layout);
        expect(b.leaves).toHaveLength(a.leaves.length);
        for (let t = 0; t < a.tokens.length; t++) expect(b.tokenProof(t).leaf).toBe(a.tokenProof(t).leaf);
        expect(rebuiltRoot(b)).toBe(b.root);
        for (let t = 0; t < a.tokens.length - 1; t++) {
          for (let l = 0; l <= a.layout.layers; l++) expect(deviation(b.hiddenRow(t, l), a.hiddenRow(t, l)).maxAbs, `t ${t} l ${l}`).toBeLessThan(4e-3);
        }
      }
      // Every sequence's commitment is its own.
      expect(new Set(results.map((r) => r.trace!.root)).size).toBe(REQUESTS.length);
      await session.release();
    });
  }

  it("serving a request alone or inside a batch gives the same tokens; 2 threads give the 1-thread tokens", async () => {
    const dir = await modelDir();
    const one = await ServeSession.load(dir, { threads: 1 });
    const two = await ServeSession.load(dir, { threads: 2, spinning: false });
    const batched = await ragged(new ContinuousBatcher(two, { maxBatch: 8 }));
    for (const [i, req] of REQUESTS.entries()) {
      const alone = await new ContinuousBatcher(one).submit({ ...req, stopAtEos: false });
      expect(batched[i]!.outputTokens, `request ${i}`).toEqual(alone.outputTokens);
    }
    await Promise.all([one.release(), two.release()]);
  });

  it("starts again after the batch emptied, any number of times", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const batcher = new ContinuousBatcher(session);
    const req = { ...REQUESTS[2]!, stopAtEos: false };
    const first = await batcher.submit(req);
    // Each submit comes right after the previous result: the loop that served it is winding down.
    for (let i = 0; i < 4; i++) expect((await batcher.submit({ ...req, trace: i % 2 === 0 })).outputTokens).toEqual(first.outputTokens);
    await batcher.idle();
    await session.release();
  });

  it("a sequence whose trace fails mid-batch leaves between passes: the others keep their tokens, a lone one fails without stopping the batcher", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const batcher = new ContinuousBatcher(session);
    const full = new Error("trace sink full");
    /** A sink that throws on its n-th row (the disk store running out of room, say). */
    const failingAfter = (n: number) => ({
      calls: 0,
      appendRows() {
        if (++this.calls === n) throw full;
      },
    });
    const survivor = { ...REQUESTS[2]!, stopAtEos: false };
    const alone = await batcher.submit(survivor);
    // The failing sequence takes slot 0, so its leaving moves the survivor's KV slot; before
    // leaving waited for the pass, that move ran while the pass read the slots, and the
    // survivor's next keys went to slot −1 (written over slot 0's first value).
    const failing = batcher.submit({ ...REQUESTS[0]!, stopAtEos: false, traceSink: failingAfter(3 * 5) });
    const kept = batcher.submit(survivor);
    await expect(failing).rejects.toBe(full);
    expect((await kept).outputTokens).toEqual(alone.outputTokens);
    // Alone in the batch, the failing sequence empties the KV slots when it leaves.
    await expect(batcher.submit({ ...REQUESTS[0]!, stopAtEos: false, traceSink: failingAfter(3 * 5) })).rejects.toBe(full);
    expect((await batcher.submit(survivor)).outputTokens).toEqual(alone.outputTokens);
    await batcher.idle();
    await session.release();
  });

  it("refuses past its queue, and a request that can never fit the KV budget", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const batcher = new ContinuousBatcher(session, { maxBatch: 1, maxQueued: 1 });
    const req = { ...REQUESTS[0]!, trace: false, stopAtEos: false };
    const first = batcher.submit(req);
    const second = batcher.submit(req);
    // The first is waiting for the loop's first turn, so the queue (1) is full.
    await expect(batcher.submit(req)).rejects.toBeInstanceOf(BatcherFullError);
    await Promise.all([first, second]);
    const small = new ContinuousBatcher(session, { kvCacheBytes: 1024 });
    await expect(small.submit(req)).rejects.toThrow(/KV cache/);
    await session.release();
  });
});
