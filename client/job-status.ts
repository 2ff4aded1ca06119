import { getLogsInRanges } from "../protocol/chain/logs-in-ranges.js";
import { getAbiItem, type Address, type Hex } from "viem";
import { jobEscrowAbi } from "../protocol/chain/generated/abi.js";
import { getJob } from "../protocol/chain/actions/getJob.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { jobStatusName, type JobStatusName } from "../protocol/chain/contracts.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

export type JobStatusReport = {
  jobId: bigint;
  status: JobStatusName;
  client: Address;
  prover: Address;
  modelId: Hex;
  traceRoot: Hex;
  promptRoot: Hex;
  outputRoot: Hex;
  inputTokens: number;
  outputTokens: number;
  escrowed: bigint;
  commitDeadline: bigint;
  /** 0 until committed. */
  challengeDeadline: bigint;
  /** Chain time of the report. */
  now: bigint;
  /** Committed and a dispute may still open (PROTOCOL §5.3: through challengeDeadline inclusive). */
  windowOpen: boolean;
  openDisputes: number;
  /** JobDisputeOpened / JobDisputeResolved events of this job, oldest first. */
  disputes: { event: "opened" | "resolved"; proverAtFault?: boolean; block: bigint; tx: Hex }[];
};

/** A job's state, its windows measured in chain time, and its dispute history. */
export async function jobStatus(clients: StepproofClients, jobId: bigint): Promise<JobStatusReport> {
  const job = await getJob(clients, { jobId });
  const now = await getChainTime(clients);
  const address = clients.deployment.contracts.jobEscrow;
  const fromBlock = BigInt(clients.deployment.startBlock);
  // In ranges of at most 10k blocks: providers refuse longer eth_getLogs ranges (issue #15).
  const [opened, resolved] = await Promise.all([
    getLogsInRanges(clients.publicClient, { address, event: getAbiItem({ abi: jobEscrowAbi, name: "JobDisputeOpened" }), args: { jobId }, fromBlock, maxRange: 10_000n }),
    getLogsInRanges(clients.publicClient, { address, event: getAbiItem({ abi: jobEscrowAbi, name: "JobDisputeResolved" }), args: { jobId }, fromBlock, maxRange: 10_000n }),
  ]);
  const disputes = [
    ...opened.map((l) => ({ event: "opened" as const, block: l.blockNumber, tx: l.transactionHash, index: l.logIndex })),
    ...resolved.map((l) => ({ event: "resolved" as const, proverAtFault: l.args.proverAtFault, block: l.blockNumber, tx: l.transactionHash, index: l.logIndex })),
  ]
    .sort((a, b) => (a.block === b.block ? a.index - b.index : a.block < b.block ? -1 : 1))
    .map(({ index: _index, ...d }) => d);
  const status = jobStatusName(job.status);
  return {
    jobId,
    status,
    client: job.client,
    prover: job.prover,
    modelId: job.modelId,
    traceRoot: job.traceRoot,
    promptRoot: job.promptRoot,
    outputRoot: job.outputRoot,
    inputTokens: job.inputTokens,
    outputTokens: job.outputTokens,
    escrowed: job.escrowed,
    commitDeadline: job.commitDeadline,
    challengeDeadline: job.challengeDeadline,
    now,
    windowOpen: status === "Committed" && now <= job.challengeDeadline,
    openDisputes: job.openDisputes,
    disputes,
  };
}
