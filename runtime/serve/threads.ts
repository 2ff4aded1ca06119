import { availableParallelism } from "node:os";

/**
 * The default thread count of a serving session: every core this process may use. A prover
 * runs one session (runtime/serve/serve-session.ts), so its one intra-op pool may take them all;
 * the verifier's and calibration's reference setup keeps 1 thread (PROTOCOL §4.6).
 */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}
