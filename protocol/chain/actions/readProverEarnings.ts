import type { Abi, Address } from "viem";
import { jobEscrowAbi, nodeRegistryAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { JobStatus, jobStatusName, type JobStatusName } from "../contracts.js";
import { getEventsInRanges } from "../event-ranges.js";
import { quote } from "../../incentives/settlement.js";
import { getJob } from "./getJob.js";

export type ReadProverEarningsParameters = { prover: Address; maxLogRange?: bigint };

export type ProverEarnings = {
  /** Credited to the prover by finalization (cost less the protocol and audit fees), over all its finalized jobs. */
  earned: bigint;
  /** What its committed jobs will credit when finalized (their challenge window running or passed, not yet finalized). */
  pending: bigint;
  /** Credited and not yet withdrawn, in the escrow and the registry. */
  credits: bigint;
  /** Withdrawn to the wallet, from the escrow and the registry. */
  withdrawn: bigint;
  /** Stake taken by slashes (collateral, free and unbonding stake). */
  slashed: bigint;
  /** The prover's jobs by on-chain status. */
  jobs: Partial<Record<JobStatusName, number>>;
};

/**
 * Where a prover's money stands (PROTOCOL §5.3, §9.4), from the chain alone: its jobs from
 * `JobOpened`, payouts from `JobFinalized`, withdrawals from `CreditWithdrawn`, slashes from
 * `StakeSlashed`, and what committed jobs will pay from `quote` over their snapshotted terms.
 * A read-only summary: no key needed, logs read in bounded ranges.
 */
export async function readProverEarnings(clients: StepproofClients, p: ReadProverEarningsParameters): Promise<ProverEarnings> {
  const { jobEscrow, nodeRegistry } = clients.deployment.contracts;
  const toBlock = await clients.publicClient.getBlockNumber({ cacheTime: 0 });
  const range = { toBlock, ...(p.maxLogRange ? { maxRange: p.maxLogRange } : {}) };
  const opened = await getEventsInRanges(clients, { address: jobEscrow, abi: jobEscrowAbi as Abi, eventName: "JobOpened", args: { prover: p.prover }, ...range });
  const mine = new Set(opened.map((l) => l.args["jobId"] as bigint));
  const finalized = (await getEventsInRanges(clients, { address: jobEscrow, abi: jobEscrowAbi as Abi, eventName: "JobFinalized", ...range })).filter((l) => mine.has(l.args["jobId"] as bigint));
  const settledIds = new Set(finalized.map((l) => l.args["jobId"] as bigint));
  const earned = finalized.reduce((s, l) => s + (l.args["proverPaid"] as bigint), 0n);
  const withdrawals = await getEventsInRanges(clients, { address: [jobEscrow, nodeRegistry], abi: jobEscrowAbi as Abi, eventName: "CreditWithdrawn", args: { account: p.prover }, ...range });
  const withdrawn = withdrawals.reduce((s, l) => s + (l.args["amount"] as bigint), 0n);
  const slashes = await getEventsInRanges(clients, { address: nodeRegistry, abi: nodeRegistryAbi as Abi, eventName: "StakeSlashed", args: { node: p.prover }, ...range });
  const slashed = slashes.reduce((s, l) => s + (l.args["fromLocked"] as bigint) + (l.args["fromFree"] as bigint) + (l.args["fromUnbonding"] as bigint), 0n);

  // Only jobs not known settled are read one by one: the open and committed ones, at most a few.
  const jobs: Partial<Record<JobStatusName, number>> = {};
  if (settledIds.size) jobs.Finalized = settledIds.size;
  let pending = 0n;
  for (const jobId of mine) {
    if (settledIds.has(jobId)) continue;
    const job = await getJob(clients, { jobId });
    const name = jobStatusName(job.status);
    jobs[name] = (jobs[name] ?? 0) + 1;
    if (job.status === JobStatus.Committed) {
      pending += quote({ ...job, feeBps: BigInt(job.feeBps), auditFeeBps: BigInt(job.auditFeeBps) }).proverPaid;
    }
  }
  const [escrowCredits, registryCredits] = await Promise.all([
    clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [p.prover] }),
    clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [p.prover] }),
  ]);
  return { earned, pending, credits: escrowCredits + registryCredits, withdrawn, slashed, jobs };
}
