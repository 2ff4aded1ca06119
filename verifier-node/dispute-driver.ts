import type { Hex } from "viem";

/** A step the verifier's layer check flagged. */
export type SuspectStep = { jobId: bigint; prover: Hex; traceRoot: Hex; position: number; layer: number };

export type Assessment = { provable: true; detail: string } | { provable: false; detail: string };

/**
 * The verifier's side of the step-proof game (PROTOCOL §7). Kept behind an interface so the
 * node loop stays independent of how proofs are built.
 */
export interface DisputeDriver {
  /** Decide with the exact evaluator, before spending gas, whether some element of the step
   * violates its tolerance. Never challenge what cannot be won. */
  assess(step: SuspectStep): Promise<Assessment>;
  /** Open the dispute (posts the bond). Idempotent: an already-open dispute is not reopened. */
  open(step: SuspectStep): Promise<void>;
  /** Make every move that is due in this verifier's open disputes; returns how many moved. */
  advance(): Promise<number>;
}
