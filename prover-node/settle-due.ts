import type { Hex, TransactionReceipt } from "viem";
import { jobEscrowAbi } from "../protocol/chain/generated/abi.js";
import { FINALIZE_BATCH } from "../protocol/chain/actions/finalizeJobs.js";
import { getJobs } from "../protocol/chain/actions/getJobs.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import type { ProverDb } from "./state/db.js";
import type { PersistedTxSender } from "./state/tx-sender.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

/** Jobs read per pass at most, in each of the two reads below: a backlog drains over passes without making one pass long. */
const MAX_PER_PASS = 2_000;

export type SettleDueParameters = {
  clients: StepproofClients;
  db: ProverDb;
  sender: PersistedTxSender;
  /** The job left Committed on-chain (finalized by anyone, slashed): release what it held. */
  onSettled: (jobId: bigint, status: number) => void;
  /** Each finalizeMany's receipt, so the node can log what it was paid (issue #14: settlement visible). */
  onFinalizeReceipt?: (sent: { hash: Hex; receipt: TransactionReceipt }) => void;
};

export type SettleDueReturnType = { finalized: number; settled: number; read: number };

/**
 * Finalize what is due, reading only what is due (issue #15: every pass read every committed job,
 * one eth_call each, and the pass grew with the node's history):
 *   1. jobs committed since the last pass get their challenge deadline recorded (one batched read);
 *   2. committed jobs past their recorded deadline are read (batched): finalizable ones are
 *      finalized in batches, settled ones released, a moved deadline (an answered availability
 *      challenge extends it, PROTOCOL §9.1) recorded, disputed ones left for a later pass.
 * A pass thus costs O(jobs newly committed + jobs due), each job read about twice in its life.
 */
export async function settleDue(p: SettleDueParameters): Promise<SettleDueReturnType> {
  const report: SettleDueReturnType = { finalized: 0, settled: 0, read: 0 };
  const fresh = p.db.committedWithoutDeadline(MAX_PER_PASS);
  if (fresh.length > 0) {
    const jobs = await getJobs(p.clients, { jobIds: fresh });
    report.read += fresh.length;
    for (const [jobId, job] of jobs) {
      if (job.status === JobStatus.Committed) p.db.setChallengeDeadline(jobId, job.challengeDeadline);
      else settle(p, jobId, job.status, report);
    }
  }
  const now = await getChainTime(p.clients);
  const due = p.db.dueJobs(now, MAX_PER_PASS);
  if (due.length === 0) return report;
  const jobs = await getJobs(p.clients, { jobIds: due });
  report.read += due.length;
  const ready: bigint[] = [];
  for (const [jobId, job] of jobs) {
    if (job.status !== JobStatus.Committed) settle(p, jobId, job.status, report);
    else if (now <= job.challengeDeadline) p.db.setChallengeDeadline(jobId, job.challengeDeadline);
    else if (job.openDisputes === 0) ready.push(jobId);
  }
  for (let i = 0; i < ready.length; i += FINALIZE_BATCH) {
    const batch = ready.slice(i, i + FINALIZE_BATCH);
    const sent = await p.sender.send({ kind: "finalize", key: batch.join(","), address: p.clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "finalizeMany", args: [batch], what: `finalize ${batch.length} jobs` });
    p.onFinalizeReceipt?.(sent);
    // finalizeMany skips what is not finalizable: read back what became of each (one batched read).
    const after = await getJobs(p.clients, { jobIds: batch });
    for (const [jobId, job] of after) {
      if (job.status === JobStatus.Finalized) report.finalized++;
      if (job.status !== JobStatus.Committed) settle(p, jobId, job.status, report);
    }
  }
  return report;
}

function settle(p: SettleDueParameters, jobId: bigint, status: number, report: SettleDueReturnType): void {
  p.db.setState(jobId, "settled");
  report.settled++;
  p.onSettled(jobId, status);
}
