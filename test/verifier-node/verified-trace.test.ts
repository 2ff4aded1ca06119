import { bytesToHex, hexToBytes } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../runtime/generate.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { JobTokenProofs } from "../../runtime/trace/token-proofs.js";
import { assembleVerifiedTrace } from "../../verifier-node/verified-trace.js";
import { TraceUnavailableError, type TraceRequest } from "../../verifier-node/trace-source.js";
import { modelDir } from "../runtime/helpers.js";

/** Data from a peer is used only after it is proven against the on-chain root. */
describe("verifying a prover's trace data", () => {
  let trace: TraceCommitment;
  let other: TraceCommitment;
  let tokens: JobTokenProofs;
  let request: TraceRequest;
  const P = 4;

  beforeAll(async () => {
    const dir = await modelDir("tiny");
    const out = await generate({ modelDir: dir, promptTokens: [256, 1, 2, 3], maxNewTokens: 4, samplingParams: 0n, trace: true, stopAtEos: false });
    trace = out.trace!;
    // A correct trace of another prompt of the same length.
    other = (await generate({ modelDir: dir, promptTokens: [256, 9, 8, 7], maxNewTokens: 4, samplingParams: 0n, trace: true, stopAtEos: false })).trace!;
    tokens = new JobTokenProofs(trace.tokens, P);
    const { hidden, chunkSize, dtype } = trace.layout;
    request = {
      jobId: 1n,
      prover: "0x0000000000000000000000000000000000000001",
      traceRoot: trace.root,
      promptRoot: tokens.promptRoot,
      outputRoot: tokens.outputRoot,
      boundaries: [1, 2],
      shape: { hidden, chunkSize, dtype: dtype as 1 | 2, tokens: trace.tokens.length, inputTokens: P },
    };
  });

  const serve = (tamper: (l: number, t: number, c: number, p: ReturnType<TraceCommitment["hiddenProof"]>) => ReturnType<TraceCommitment["hiddenProof"]> | undefined) =>
    assembleVerifiedTrace(request, request.shape, (t) => tokens.proof(t), (l, t, c) => tamper(l, t, c, trace.hiddenProof(t, l, c)));

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
    expect(() => assembleVerifiedTrace({ ...request, traceRoot: `0x${"11".repeat(32)}` }, request.shape, (t) => tokens.proof(t), (l, t, c) => trace.hiddenProof(t, l, c))).toThrow(/does not match the committed root/);
  });

  it("tokens are checked against promptRoot/outputRoot: a trace of another prompt is refused", () => {
    // The prover committed `other` as its trace root (self-consistent, token leaves included)
    // while the job's promptRoot and outputRoot are the client's. Proofs against the trace
    // root, which the old check accepted, no longer verify.
    const swapped = { ...request, traceRoot: other.root };
    expect(() => assembleVerifiedTrace(swapped, request.shape, (t) => other.tokenProof(t), (l, t, c) => other.hiddenProof(t, l, c))).toThrow(/\(4294967295, 0, 0\).*does not match/);
    // Token-root proofs of the other prompt fail too (its prompt tree has another root).
    const theirs = new JobTokenProofs(other.tokens, P);
    expect(() => assembleVerifiedTrace(swapped, request.shape, (t) => theirs.proof(t), (l, t, c) => other.hiddenProof(t, l, c))).toThrow(/\(4294967295, 0, 0\).*does not match/);
    // A token leaf proven under the wrong one of the two roots (output position, prompt tree) fails.
    expect(() => assembleVerifiedTrace(request, request.shape, (t) => (t === P ? { ...tokens.proof(P - 1), row: P } : tokens.proof(t)), (l, t, c) => trace.hiddenProof(t, l, c))).toThrow(TraceUnavailableError);
  });
});
