import { parseEventLogs } from "viem";
import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** Contract bound on one finalizeMany call (JobEscrow.MAX_BATCH). */
export const FINALIZE_BATCH = 100;

/**
 * Finalize settled jobs in batches of FINALIZE_BATCH. Jobs already settled or not yet
 * settleable are skipped on-chain, so retrying after a crash is harmless.
 * @returns How many jobs this call finalized.
 */
export async function finalizeJobs(clients: StepproofClients, jobIds: readonly bigint[]): Promise<number> {
  let settled = 0;
  for (let i = 0; i < jobIds.length; i += FINALIZE_BATCH) {
    const batch = jobIds.slice(i, i + FINALIZE_BATCH);
    const { receipt } = await sendContractTransaction(clients, {
      address: clients.deployment.contracts.jobEscrow,
      abi: jobEscrowAbi,
      functionName: "finalizeMany",
      args: [batch],
      what: `finalize ${batch.length} jobs`,
    });
    // Counted from the mined receipt: the simulation's return value describes the chain before
    // any concurrent finalize landed, the receipt what this transaction actually did.
    const escrow = clients.deployment.contracts.jobEscrow.toLowerCase();
    settled += parseEventLogs({ abi: jobEscrowAbi, eventName: "JobFinalized", logs: receipt.logs }).filter((l) => l.address.toLowerCase() === escrow).length;
  }
  return settled;
}
