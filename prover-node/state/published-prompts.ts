import type { DatabaseSync } from "node:sqlite";
import type { Address, Hex, Log } from "viem";
import { jobEscrowAbi } from "../../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { decodePromptTokens } from "../../protocol/chain/actions/publishPrompt.js";
import { followLogs, LOG_CURSOR_SCHEMA } from "../../protocol/node/log-follower.js";

const SCHEMA = `
${LOG_CURSOR_SCHEMA}
CREATE TABLE IF NOT EXISTS published_prompts (
  job_id TEXT PRIMARY KEY,
  prompt TEXT NOT NULL,        -- the event's bytes (uint32 big-endian ids), hex
  handled INTEGER NOT NULL DEFAULT 0,
  decline_deadline INTEGER     -- the event's (chain seconds); NULL in rows read before it was kept
);
CREATE INDEX IF NOT EXISTS published_prompts_handled ON published_prompts (handled);`;

/** `declineDeadline` is undefined for a row a node of an earlier version read. */
export type PublishedPrompt = { jobId: bigint; promptTokens: number[]; declineDeadline: bigint | undefined };

/**
 * Prompts clients published on-chain for this prover (PROTOCOL §5.3), read once each with a
 * persisted cursor over PromptPublished (indexed by prover, bounded ranges) into a table of
 * pending work, instead of re-scanning 50,000 blocks of logs every pass (issue #15). A row stays
 * pending until the loop has admitted, served or declined its job, so a crash in between
 * replays it (admission is idempotent: a job already claimed is not served twice).
 */
export class PublishedPrompts {
  constructor(readonly db: DatabaseSync) {
    db.exec(SCHEMA);
    const columns = db.prepare("PRAGMA table_info(published_prompts)").all() as { name: string }[];
    if (!columns.some((c) => c.name === "decline_deadline")) db.exec("ALTER TABLE published_prompts ADD COLUMN decline_deadline INTEGER");
  }

  /** Read new publications up to the head (bounded ranges); returns how many were new. */
  async follow(clients: StepproofClients, prover: Address, p: { confirmations: number; maxRange: number }): Promise<number> {
    const insert = this.db.prepare("INSERT OR IGNORE INTO published_prompts (job_id, prompt, decline_deadline) VALUES (?, ?, ?)");
    let found = 0;
    for (;;) {
      const r = await followLogs({
        db: this.db,
        name: "PromptPublished",
        client: clients.publicClient,
        address: clients.deployment.contracts.jobEscrow,
        abi: jobEscrowAbi,
        eventName: "PromptPublished",
        args: { prover },
        startBlock: BigInt(clients.deployment.startBlock),
        confirmations: p.confirmations,
        maxRange: p.maxRange,
        onLogs: (logs: Log[]) => {
          for (const log of logs as (Log & { args: { jobId: bigint; prompt: Hex; declineDeadline: bigint } })[]) {
            found += Number(insert.run(log.args.jobId.toString(), log.args.prompt, log.args.declineDeadline).changes);
          }
        },
      });
      if (!r) return found;
    }
  }

  /** Publications not handled yet, oldest job first. */
  pending(): PublishedPrompt[] {
    const rows = this.db.prepare("SELECT job_id, prompt, decline_deadline FROM published_prompts WHERE handled = 0 ORDER BY CAST(job_id AS INTEGER)").all() as { job_id: string; prompt: Hex; decline_deadline: number | bigint | null }[];
    return rows.map((r) => ({ jobId: BigInt(r.job_id), promptTokens: decodePromptTokens(r.prompt), declineDeadline: r.decline_deadline === null ? undefined : BigInt(r.decline_deadline) }));
  }

  /** Served, declined, or found already handled: not looked at again. */
  handled(jobId: bigint): void {
    this.db.prepare("UPDATE published_prompts SET handled = 1 WHERE job_id = ?").run(jobId.toString());
  }
}
