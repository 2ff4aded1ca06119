import type { Hex } from "viem";
import type { ReplayableTrace } from "../runtime/reexec.js";
import { StepproofError } from "../protocol/errors.js";

/** What the verifier needs of a committed job to re-execute layers. */
export type TraceRequest = {
  jobId: bigint;
  /** The job's key in the prover's trace API when not its job id: a voucher job's hash (PROTOCOL §5.8). */
  key?: string;
  prover: Hex;
  /** The on-chain trace root every fetched hidden-state chunk is verified against. */
  traceRoot: Hex;
  /** On-chain token roots (PROTOCOL §3.4): token t < inputTokens is verified against promptRoot, t ≥ it against outputRoot. */
  promptRoot: Hex;
  outputRoot: Hex;
  /** Boundaries whose rows are needed (l-1 and l for each re-executed block l; none for l = 0). */
  boundaries: readonly number[];
  /** Shape from the chain (model registration, job token counts), never from the prover. */
  shape: { hidden: number; chunkSize: number; dtype: 1 | 2; tokens: number; inputTokens: number };
};

/** One hidden-state leaf h[row][layer], chunk `chunk`, of a committed trace (an audit's probe, PROTOCOL §9.1). */
export type LeafRequest = { jobId: bigint; prover: Hex; traceRoot: Hex; layer: number; row: number; chunk: number };

/** A trace leaf's bytes and Merkle proof, verified against the on-chain trace root. */
export type VerifiedLeaf = { chunk: Hex; proof: Hex[] };

/** The prover did not serve the data, or served data that does not match its root. */
export class TraceUnavailableError extends StepproofError {
  override name = "TraceUnavailableError";
}

/**
 * Where a verifier gets trace data: the prover's HTTP endpoint in production, memory in tests.
 * Implementations MUST verify every hidden chunk against `traceRoot` and every token against
 * `promptRoot` / `outputRoot` before returning it, so the checks that follow only ever see
 * committed data (and replay the prompt the client paid for, not another one).
 */
export interface TraceSource {
  fetch(request: TraceRequest): Promise<ReplayableTrace>;
  /** One leaf with its proof, verified against `traceRoot` before it is returned. */
  fetchLeaf(request: LeafRequest): Promise<VerifiedLeaf>;
}
