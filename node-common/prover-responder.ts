import type { StepproofClients } from "../protocol/chain/client.js";
import { Phase } from "../protocol/dispute/agent.js";
import { readChainDispute } from "../protocol/game/chain-dispute.js";
import { disputeDataFor, type FullTrace } from "./dispute-data.js";
import type { FollowedDispute } from "../protocol/game/my-disputes.js";
import { playTurn, type PlayReturnType } from "../protocol/game/play.js";
import type { MoveSender } from "../protocol/game/send-move.js";

export type RespondToDisputesParameters = {
  clients: StepproofClients;
  /** Live disputes on this prover's jobs (protocol/game followDisputes records them). */
  disputes: readonly Pick<FollowedDispute, "id" | "jobId" | "openedBlock">[];
  modelDir: string;
  /** The committed trace of a job, from the prover's trace store. */
  traceFor: (jobId: bigint) => FullTrace | undefined;
  /** Called for each dispute that is over on-chain (resolved or cancelled): it need not be read again. */
  onOver?: (dispute: Pick<FollowedDispute, "id" | "jobId">) => void;
  /** How moves go out; default a plain send through `clients` (protocol/game/send-move.ts). */
  send?: MoveSender;
  /**
   * A dispute whose turn failed (a chain read, a move refused or not mined yet): the others are
   * still played this pass. Without it the first failure is thrown once every dispute has had
   * its turn.
   */
  onError?: (dispute: Pick<FollowedDispute, "id" | "jobId">, err: unknown) => void;
};

const LIVE = new Set<number>([Phase.AwaitingStepRoot, Phase.AwaitingProof, Phase.AwaitingData]);

/**
 * The prover's side of every live dispute on its jobs: post the step root, answer data
 * demands, or claim the challenger's timeout (PROTOCOL §7.4). Stateless: everything comes
 * from chain and the trace store each call; the cost is a few reads per live dispute.
 */
export async function respondToDisputes(p: RespondToDisputesParameters): Promise<PlayReturnType[]> {
  const moves: PlayReturnType[] = [];
  let firstError: { err: unknown } | undefined;
  for (const d of p.disputes) {
    try {
      const from = { fromBlock: d.openedBlock };
      const c = await readChainDispute(p.clients, d.id, from);
      if (!LIVE.has(c.phase)) {
        p.onOver?.(d);
        continue;
      }
      const trace = p.traceFor(d.jobId);
      if (!trace) continue; // nothing on disk: the clock will decide (and say so in the node's status)
      const played = await playTurn(p.clients, "prover", d.id, async (chain) => ({ data: await disputeDataFor(p.modelDir, trace, chain.traceRoot) }), from, p.send);
      if (played.move && played.move.kind !== "wait") moves.push(played);
    } catch (err) {
      // One dispute's failure must not cost the others their turn: each has a clock of its own.
      if (p.onError) p.onError(d, err);
      else firstError ??= { err };
    }
  }
  if (firstError) throw firstError.err;
  return moves;
}
