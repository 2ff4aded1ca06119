import type { ReplayableTrace } from "../runtime/reexec.js";
import type { TraceCommitment } from "../runtime/trace/commitment.js";
import { JobTokenProofs } from "../runtime/trace/token-proofs.js";
import { TraceUnavailableError, type LeafRequest, type TraceRequest, type TraceSource, type VerifiedLeaf } from "./trace-source.js";
import { assembleVerifiedTrace, verifiedLeaf } from "./verified-trace.js";

/**
 * A trace source over TraceCommitment objects held in the same process (tests). Tokens are
 * served with proofs against the job's token roots (as the prover's API does) and every token
 * and chunk is verified against the on-chain roots exactly as the HTTP source does.
 */
export class CommitmentTraceSource implements TraceSource {
  readonly #traces = new Map<string, TraceCommitment>();

  publish(jobId: bigint, trace: TraceCommitment): void {
    this.#traces.set(jobId.toString(), trace);
  }

  async fetch(request: TraceRequest): Promise<ReplayableTrace> {
    const trace = this.#traces.get(request.jobId.toString());
    if (!trace) throw new TraceUnavailableError(`prover ${request.prover} serves no trace for job ${request.jobId}`);
    const tokens = new JobTokenProofs(trace.tokens, request.shape.inputTokens);
    return assembleVerifiedTrace(
      request,
      request.shape,
      (t) => tokens.proof(t),
      (l, t, c) => trace.hiddenProof(t, l, c),
    );
  }

  async fetchLeaf(request: LeafRequest): Promise<VerifiedLeaf> {
    const trace = this.#traces.get(request.jobId.toString());
    if (!trace) throw new TraceUnavailableError(`prover ${request.prover} serves no trace for job ${request.jobId}`);
    return verifiedLeaf(request, trace.hiddenProof(request.row, request.layer, request.chunk));
  }
}
