import { getContract } from "viem";
import { auditManagerAbi, jobEscrowAbi, modelRegistryAbi, nodeRegistryAbi, testTokenAbi } from "./generated/abi.js";
import type { StepproofClients } from "./client.js";

/** Typed contract instances for a connected deployment (reads via the public client). */
export function stepproofContracts(clients: StepproofClients) {
  const client = { public: clients.publicClient, ...(clients.walletClient ? { wallet: clients.walletClient } : {}) };
  const c = clients.deployment.contracts;
  return {
    token: getContract({ address: c.token, abi: testTokenAbi, client }),
    modelRegistry: getContract({ address: c.modelRegistry, abi: modelRegistryAbi, client }),
    nodeRegistry: getContract({ address: c.nodeRegistry, abi: nodeRegistryAbi, client }),
    jobEscrow: getContract({ address: c.jobEscrow, abi: jobEscrowAbi, client }),
    auditManager: getContract({ address: c.auditManager, abi: auditManagerAbi, client }),
  };
}

/** On-chain JobStatus enum (IJobEscrow.JobStatus). */
export const JobStatus = { None: 0, Open: 1, Committed: 2, Finalized: 3, Expired: 4, Slashed: 5, Declined: 6 } as const;
export type JobStatusName = keyof typeof JobStatus;
export const jobStatusName = (status: number): JobStatusName =>
  (Object.keys(JobStatus) as JobStatusName[]).find((k) => JobStatus[k] === status) ?? "None";
