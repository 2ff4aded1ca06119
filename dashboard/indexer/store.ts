import type { DatabaseSync } from "node:sqlite";
import type { Hash } from "viem";
import { inTransaction, openNodeDatabase } from "../../protocol/node/database.js";
import type { ChainEvent, WatchedContract } from "./events.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dashboard_cursor (
  stream TEXT PRIMARY KEY,     -- chain id, JobEscrow address and deployment block: one per deployment
  block INTEGER NOT NULL,      -- last block folded into the ledger
  block_hash TEXT NOT NULL     -- its hash, to notice a reorg (or a restarted dev chain) under us
);
CREATE TABLE IF NOT EXISTS dashboard_event (
  stream TEXT NOT NULL,
  block INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  contract TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,          -- JSON, bigints as {"$n": "<decimal>"}
  time INTEGER NOT NULL,       -- block timestamp (s)
  PRIMARY KEY (stream, block, log_index)
);`;

export type StoredCursor = { block: bigint; hash: Hash };

/**
 * The indexer's memory across restarts, in SQLite: the cursor (last indexed block and its hash)
 * and the decoded events up to it. A restart replays the stored events into a fresh ledger and
 * reads only the blocks after the cursor, so the chain's history is fetched once. A range's
 * events and the cursor that covers them commit in one transaction.
 */
export class IndexerStore {
  private readonly db: DatabaseSync;

  constructor(
    file: string,
    private readonly stream: string,
  ) {
    this.db = openNodeDatabase(file, SCHEMA);
  }

  load(): { cursor: StoredCursor | undefined; events: ChainEvent[] } {
    const row = this.db.prepare("SELECT block, block_hash FROM dashboard_cursor WHERE stream = ?").get(this.stream) as { block: number; block_hash: string } | undefined;
    if (!row) return { cursor: undefined, events: [] };
    const rows = this.db.prepare("SELECT block, log_index, contract, name, args, time FROM dashboard_event WHERE stream = ? AND block <= ? ORDER BY block, log_index").all(this.stream, row.block) as {
      block: number;
      log_index: number;
      contract: string;
      name: string;
      args: string;
      time: number;
    }[];
    return {
      cursor: { block: BigInt(row.block), hash: row.block_hash as Hash },
      events: rows.map((r) => ({ contract: r.contract as WatchedContract, name: r.name, args: JSON.parse(r.args, revive) as Record<string, unknown>, blockNumber: BigInt(r.block), logIndex: r.log_index, time: BigInt(r.time) })),
    };
  }

  /** Add one range's events and move the cursor to its end, atomically. */
  append(events: readonly ChainEvent[], cursor: StoredCursor): void {
    inTransaction(this.db, () => {
      const insert = this.db.prepare("INSERT OR REPLACE INTO dashboard_event (stream, block, log_index, contract, name, args, time) VALUES (?, ?, ?, ?, ?, ?, ?)");
      for (const e of events) insert.run(this.stream, Number(e.blockNumber), e.logIndex, e.contract, e.name, JSON.stringify(e.args, replace), Number(e.time));
      this.db.prepare("INSERT INTO dashboard_cursor (stream, block, block_hash) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash").run(this.stream, Number(cursor.block), cursor.hash);
    });
  }

  /** Forget this deployment's events and cursor (a reorg deeper than the confirmations). */
  reset(): void {
    inTransaction(this.db, () => {
      this.db.prepare("DELETE FROM dashboard_event WHERE stream = ?").run(this.stream);
      this.db.prepare("DELETE FROM dashboard_cursor WHERE stream = ?").run(this.stream);
    });
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

const replace = (_k: string, v: unknown) => (typeof v === "bigint" ? { $n: v.toString() } : v);
const revive = (_k: string, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { $n?: unknown }).$n === "string" ? BigInt((v as { $n: string }).$n) : v);
