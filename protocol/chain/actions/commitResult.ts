import type { Hex } from "viem";
import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

export type CommitResultParameters = {
  jobId: bigint;
  traceRoot: Hex;
  /** tokenRoot(outputIds, inputTokens) (PROTOCOL §3.4). */
  outputRoot: Hex;
  /** 1..maxOutputTokens; the prompt length was fixed at openJob. */
  outputTokens: number;
};

/** The prover commits a job's trace root and output root (PROTOCOL §5.3); starts the challenge window. */
export async function commitResult(clients: StepproofClients, p: CommitResultParameters) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.jobEscrow,
    abi: jobEscrowAbi,
    functionName: "commitResult",
    args: [p.jobId, p.traceRoot, p.outputRoot, p.outputTokens],
    what: `commit the result of job ${p.jobId}`,
  });
}
