import { BaseError, ContractFunctionRevertedError } from "viem";
import { StepproofError } from "../../errors.js";
import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";

export type GetJobParameters = { jobId: bigint };

/** IJobEscrow.Job as viem decodes it. */
export type OnChainJob = Awaited<ReturnType<typeof readJob>>;

/** The escrow has no job with this id (status None). */
export class UnknownJobError extends StepproofError {
  override name = "UnknownJobError";
  constructor(readonly jobId: bigint, cause?: unknown) {
    super(`Job ${jobId} does not exist on-chain.`, { cause });
  }
}

function readJob(clients: StepproofClients, jobId: bigint) {
  return clients.publicClient.readContract({ address: clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] });
}

/**
 * Read a job; an unknown id is an UnknownJobError (the contract reverts with UnknownJob)
 * rather than a generic RPC failure, so callers can answer 404 instead of 502.
 */
export async function getJob(clients: StepproofClients, p: GetJobParameters): Promise<OnChainJob> {
  try {
    return await readJob(clients, p.jobId);
  } catch (err) {
    if (err instanceof BaseError) {
      const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
      if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName === "UnknownJob") throw new UnknownJobError(p.jobId, err);
    }
    throw err;
  }
}
