import type { DatabaseSync } from "node:sqlite";
import type { Address, Hex, Log } from "viem";
import { stepProofGameAbi } from "../chain/generated/abi.js";
import type { StepproofClients } from "../chain/client.js";
import { followLogs, LOG_CURSOR_SCHEMA } from "../node/log-follower.js";

/**
 * The disputes a node plays, found by following DisputeOpened with a persisted cursor (bounded
 * ranges, each log read once) instead of scanning the game's logs from the deployment block on
 * every pass (issue #15: that scan's cost grew with the chain's history, and providers refuse
 * ranges over 10k blocks). A dispute stays `live` until its side reports it over.
 */
export const DISPUTES_SCHEMA = `
${LOG_CURSOR_SCHEMA}
CREATE TABLE IF NOT EXISTS followed_disputes (
  dispute_id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  opened_block INTEGER NOT NULL,
  live INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS followed_disputes_live ON followed_disputes (live);`;

export type FollowedDispute = { id: Hex; jobId: bigint; openedBlock: bigint };

export type FollowDisputesParameters = {
  db: DatabaseSync;
  clients: StepproofClients;
  /**
   * Whose disputes: those this account opened (an indexed filter: only its logs are read), or
   * those on jobs `isMine` accepts (a prover: DisputeOpened does not name the prover, so every
   * dispute is read once and kept only when it is about one of its jobs).
   */
  filter: { challenger: Address } | { isMine: (jobId: bigint) => boolean };
  confirmations?: number;
  maxRange?: number;
};

/** Advance the cursor to the chain head (bounded ranges) and record new disputes; returns how many. */
export async function followDisputes(p: FollowDisputesParameters): Promise<number> {
  p.db.exec(DISPUTES_SCHEMA);
  const insert = p.db.prepare("INSERT OR IGNORE INTO followed_disputes (dispute_id, job_id, opened_block) VALUES (?, ?, ?)");
  const filter = p.filter;
  let found = 0;
  for (;;) {
    const r = await followLogs({
      db: p.db,
      name: "challenger" in filter ? `DisputeOpened:${filter.challenger.toLowerCase()}` : "DisputeOpened",
      client: p.clients.publicClient,
      address: p.clients.deployment.contracts.stepProofGame,
      abi: stepProofGameAbi,
      eventName: "DisputeOpened",
      ...("challenger" in filter ? { args: { challenger: filter.challenger } } : {}),
      startBlock: BigInt(p.clients.deployment.startBlock),
      confirmations: p.confirmations ?? 0,
      maxRange: p.maxRange ?? 1000,
      onLogs: (logs: Log[]) => {
        for (const log of logs as (Log & { args: { disputeId: Hex; jobId: bigint } })[]) {
          if ("isMine" in filter && !filter.isMine(log.args.jobId)) continue;
          found += Number(insert.run(log.args.disputeId, log.args.jobId.toString(), Number(log.blockNumber)).changes);
        }
      },
    });
    if (!r) return found;
  }
}

/** Disputes recorded and not reported over, oldest first. */
export function liveDisputes(db: DatabaseSync): FollowedDispute[] {
  db.exec(DISPUTES_SCHEMA);
  const rows = db.prepare("SELECT dispute_id, job_id, opened_block FROM followed_disputes WHERE live = 1 ORDER BY opened_block").all() as { dispute_id: Hex; job_id: string; opened_block: number }[];
  return rows.map((r) => ({ id: r.dispute_id, jobId: BigInt(r.job_id), openedBlock: BigInt(r.opened_block) }));
}

/** The dispute is resolved or cancelled on-chain: stop reading it every pass. */
export function endDispute(db: DatabaseSync, id: Hex): void {
  db.prepare("UPDATE followed_disputes SET live = 0 WHERE dispute_id = ?").run(id);
}
