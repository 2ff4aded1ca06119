import type { Hex } from "viem";
import { jobEscrowAbi } from "../abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

export type CommitResultParameters = {
  jobId: bigint;
  traceRoot: Hex;
  outputHash: Hex;
  inputTokens: number;
  outputTokens: number;
};

/** The prover commits a job's trace root and output (PROTOCOL §5.3); starts the challenge window. */
export async function commitResult(clients: StepproofClients, p: CommitResultParameters) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.jobEscrow,
    abi: jobEscrowAbi,
    functionName: "commitResult",
    args: [p.jobId, p.traceRoot, p.outputHash, p.inputTokens, p.outputTokens],
    what: `commit the result of job ${p.jobId}`,
  });
}
