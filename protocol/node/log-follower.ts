import type { Abi, AbiEvent, Address, Chain, Hash, Log, PublicClient, Transport } from "viem";
import type { DatabaseSync } from "node:sqlite";
import { StepproofError } from "../errors.js";
import { inTransaction } from "./database.js";

export const LOG_CURSOR_SCHEMA = `
CREATE TABLE IF NOT EXISTS log_cursor (
  name TEXT PRIMARY KEY,
  block INTEGER NOT NULL,      -- last fully processed block
  block_hash TEXT NOT NULL     -- its hash, to detect a reorg under us
);
CREATE TABLE IF NOT EXISTS seen_block (
  name TEXT NOT NULL,
  block INTEGER NOT NULL,
  block_hash TEXT NOT NULL,
  PRIMARY KEY (name, block)
);`;

export class LogFollowerError extends StepproofError {
  override name = "LogFollowerError";
}

export type FollowLogsParameters<TAbi extends Abi> = {
  db: DatabaseSync;
  /** Cursor name, one per followed stream. */
  name: string;
  client: PublicClient<Transport, Chain>;
  address: Address;
  abi: TAbi;
  eventName: string;
  /** Filter on indexed arguments (e.g. `{ prover: me }`): the node reads only its own logs. */
  args?: Record<string, unknown>;
  /** Where to start when there is no cursor (the deployment block). */
  startBlock: bigint;
  /** Only blocks this deep are processed: shallower ones may still be reorged away. */
  confirmations: number;
  /** Blocks per eth_getLogs request (providers cap the range). */
  maxRange: number;
  /** How far back to look for the fork point when a reorg is detected. */
  reorgDepth?: number;
  /** Handle one batch of logs; runs inside the transaction that advances the cursor. */
  onLogs: (logs: Log[]) => void;
};

export type FollowLogsReturnType = { fromBlock: bigint; toBlock: bigint; logs: number; reorged: boolean };

/**
 * Advance a persisted cursor over an event stream by one bounded range. Only confirmed blocks
 * are read; each range's logs and the new cursor commit in one SQLite transaction, so a crash
 * replays at most the range in flight and handlers must be idempotent. The hash of every
 * processed block is kept for `reorgDepth` blocks: if the chain's block at the cursor no
 * longer has the recorded hash, the cursor rewinds to the newest block that still matches.
 */
export async function followLogs<TAbi extends Abi>(p: FollowLogsParameters<TAbi>): Promise<FollowLogsReturnType | undefined> {
  const reorgDepth = BigInt(p.reorgDepth ?? 64);
  const row = p.db.prepare("SELECT block, block_hash FROM log_cursor WHERE name = ?").get(p.name) as { block: number; block_hash: string } | undefined;
  let reorged = false;
  let from = p.startBlock;
  if (row) {
    const cursor = BigInt(row.block);
    const current = await p.client.getBlock({ blockNumber: cursor }).catch(() => undefined);
    if (current && current.hash === row.block_hash) {
      from = cursor + 1n;
    } else {
      from = await findForkPoint(p, cursor, reorgDepth);
      reorged = true;
    }
  }
  // No cached head: a stale one would only delay, but the cursor should see what the node sees.
  const head = await p.client.getBlockNumber({ cacheTime: 0 });
  const safe = head - BigInt(p.confirmations);
  if (safe < from) {
    if (reorged) rewindCursor(p, from - 1n);
    return undefined;
  }
  const to = from + BigInt(p.maxRange) - 1n < safe ? from + BigInt(p.maxRange) - 1n : safe;
  const event = (p.abi as readonly { type: string; name?: string }[]).find((e) => e.type === "event" && e.name === p.eventName) as AbiEvent | undefined;
  if (!event) throw new LogFollowerError(`event ${p.eventName} is not in the ABI`);
  const logs = await p.client.getLogs({ address: p.address, event, ...(p.args ? { args: p.args } : {}), fromBlock: from, toBlock: to } as Parameters<typeof p.client.getLogs>[0]);
  const toBlock = await p.client.getBlock({ blockNumber: to });
  // A log from a block that is no longer canonical would be processed wrongly: refuse it.
  for (const log of logs) {
    if (log.removed) throw new LogFollowerError(`removed log in block ${log.blockNumber}; retry`);
  }
  inTransaction(p.db, () => {
    p.onLogs(logs as Log[]);
    p.db.prepare("INSERT INTO log_cursor (name, block, block_hash) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block, block_hash = excluded.block_hash").run(p.name, Number(to), toBlock.hash);
    p.db.prepare("INSERT OR REPLACE INTO seen_block (name, block, block_hash) VALUES (?, ?, ?)").run(p.name, Number(to), toBlock.hash);
    p.db.prepare("DELETE FROM seen_block WHERE name = ? AND block < ?").run(p.name, Number(to - reorgDepth));
  });
  return { fromBlock: from, toBlock: to, logs: logs.length, reorged };
}

/** First block to re-read after a reorg: one past the newest recorded block still canonical. */
async function findForkPoint<TAbi extends Abi>(p: FollowLogsParameters<TAbi>, cursor: bigint, depth: bigint): Promise<bigint> {
  const rows = p.db.prepare("SELECT block, block_hash FROM seen_block WHERE name = ? AND block <= ? ORDER BY block DESC").all(p.name, Number(cursor)) as { block: number; block_hash: Hash }[];
  for (const r of rows) {
    if (BigInt(r.block) < cursor - depth) break;
    const b = await p.client.getBlock({ blockNumber: BigInt(r.block) }).catch(() => undefined);
    if (b && b.hash === r.block_hash) return BigInt(r.block) + 1n;
  }
  const back = cursor - depth;
  return back > p.startBlock ? back : p.startBlock;
}

function rewindCursor<TAbi extends Abi>(p: FollowLogsParameters<TAbi>, block: bigint): void {
  p.db.prepare("DELETE FROM log_cursor WHERE name = ?").run(p.name);
  if (block >= p.startBlock) {
    const hash = (p.db.prepare("SELECT block_hash FROM seen_block WHERE name = ? AND block = ?").get(p.name, Number(block)) as { block_hash: string } | undefined)?.block_hash;
    if (hash) p.db.prepare("INSERT INTO log_cursor (name, block, block_hash) VALUES (?, ?, ?)").run(p.name, Number(block), hash);
  }
}
