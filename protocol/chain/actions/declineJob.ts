import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

export type DeclineJobParameters = { jobId: bigint };

/**
 * The job's prover declines an Open job it cannot serve (PROTOCOL §5.3): before the prompt is
 * published, or within `declineWindow` after. The client is refunded in full; no penalty.
 */
export async function declineJob(clients: StepproofClients, p: DeclineJobParameters) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.jobEscrow,
    abi: jobEscrowAbi,
    functionName: "declineJob",
    args: [p.jobId],
    what: `decline job ${p.jobId}`,
  });
}
