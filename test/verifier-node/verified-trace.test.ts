import { bytesToHex, hexToBytes } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../runtime/generate.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { assembleVerifiedTrace } from "../../verifier-node/verified-trace.js";
import { TraceUnavailableError, type TraceRequest } from "../../verifier-node/trace-source.js";
import { modelDir } from "../runtime/helpers.js";

/** Data from a peer is used only after it is proven against the on-chain root. */
describe("verifying a prover's trace data", () => {
  let trace: TraceCommitment;
  let request: TraceRequest;

  beforeAll(async () => {
    const out = await generate({ modelDir: await modelDir("tiny"), promptTokens: [256, 1, 2, 3], maxNewTokens: 4, samplingParams: 0n, trace: true, stopAtEos: false });
    trace = out.trace!;
    const { hidden, chunkSize, dtype } = trace.layout;
    request = { jobId: 1n, prover: "0x0000000000000000000000000000000000000001", traceRoot: trace.root, boundaries: [1, 2], shape: { hidden, chunkSize, dtype: dtype as 1 | 2, tokens: trace.tokens.length } };
  });

  const serve = (tamper: (l: number, t: number, c: number, p: ReturnType<TraceCommitment["hiddenProof"]>) => ReturnType<TraceCommitment["hiddenProof"]> | undefined) =>
    assembleVerifiedTrace(request, request.shape, (t) => trace.tokenProof(t), (l, t, c) => tamper(l, t, c, trace.hiddenProof(t, l, c)));

  it("accepts honest data and rebuilds the committed rows", () => {
    const rows = serve((_l, _t, _c, p) => p);
    expect(rows.tokens).toEqual(trace.tokens);
    expect([...rows.row(3, 2)]).toEqual([...trace.hiddenRow(3, 2)]);
  });

  it("rejects a flipped byte, a foreign proof, a relabelled chunk and a missing chunk", () => {
    const flip = (hex: `0x${string}`) => {
      const b = hexToBytes(hex);
      b[0]! ^= 1;
      return bytesToHex(b);
    };
    const cases: [string, Parameters<typeof serve>[0]][] = [
      ["flipped byte", (l, t, c, p) => (l === 2 && t === 1 && c === 0 ? { ...p, chunk: flip(p.chunk) } : p)],
      ["another chunk's proof", (l, t, c, p) => (l === 2 && t === 1 ? { ...p, proof: trace.hiddenProof(t, l, c).proof.map((x, i) => (i === 0 ? trace.hiddenProof(0, 1, 0).leaf : x)) } : p)],
      ["chunk served for another position", (l, t, c, p) => (l === 1 && t === 2 ? { ...trace.hiddenProof(3, l, c) } : p)],
      ["missing chunk", (l, t, c, p) => (l === 2 && t === 0 && c === 0 ? undefined : p)],
    ];
    for (const [what, tamper] of cases) expect(() => serve(tamper), what).toThrow(TraceUnavailableError);
    // A trace for another root is rejected wholesale.
    expect(() => assembleVerifiedTrace({ ...request, traceRoot: `0x${"11".repeat(32)}` }, request.shape, (t) => trace.tokenProof(t), (l, t, c) => trace.hiddenProof(t, l, c))).toThrow(/does not match the committed root/);
  });
});
