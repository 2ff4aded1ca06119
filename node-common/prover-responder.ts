import type { Hex } from "viem";
import type { StepproofClients } from "../protocol/chain/client.js";
import { Phase } from "../protocol/dispute/agent.js";
import { readChainDispute } from "../protocol/game/chain-dispute.js";
import { disputeDataFor, type FullTrace } from "./dispute-data.js";
import { listDisputes } from "../protocol/game/my-disputes.js";
import { playTurn, type PlayReturnType } from "../protocol/game/play.js";

export type RespondToDisputesParameters = {
  clients: StepproofClients;
  /** Jobs this prover committed (disputes can only be about those). */
  jobIds: readonly bigint[];
  modelDir: string;
  /** The committed trace of a job, from the prover's trace store. */
  traceFor: (jobId: bigint) => FullTrace | undefined;
};

/**
 * The prover's side of every live dispute on its jobs: post the step root, answer data
 * demands, or claim the challenger's timeout (PROTOCOL §7.4). Stateless: everything comes
 * from chain and the trace store each call.
 */
export async function respondToDisputes(p: RespondToDisputesParameters): Promise<PlayReturnType[]> {
  const moves: PlayReturnType[] = [];
  for (const { id, jobId } of await listDisputes(p.clients, { jobIds: p.jobIds })) {
    const c = await readChainDispute(p.clients, id);
    if (c.phase !== Phase.AwaitingStepRoot && c.phase !== Phase.AwaitingProof && c.phase !== Phase.AwaitingData) continue;
    const trace = p.traceFor(jobId);
    if (!trace) continue; // nothing on disk: the clock will decide (and say so in the node's status)
    const played = await playTurn(p.clients, "prover", id as Hex, async (chain) => ({ data: await disputeDataFor(p.modelDir, trace, chain.traceRoot) }));
    if (played.move && played.move.kind !== "wait") moves.push(played);
  }
  return moves;
}
