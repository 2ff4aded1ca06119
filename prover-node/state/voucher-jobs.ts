import type { DatabaseSync } from "node:sqlite";
import type { Address, Hex } from "viem";
import { batchHeaderFromJson, batchHeaderToJson, debitFromJson, debitToJson, decodeVoucherHeader, encodeVoucherHeader } from "../../protocol/vouchers/wire.js";
import { voucherMaxCharge, type Voucher } from "../../protocol/vouchers/voucher.js";
import type { BatchHeader, Debit } from "../../protocol/vouchers/batch.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS voucher_jobs (
  voucher_hash TEXT PRIMARY KEY,
  client TEXT NOT NULL,             -- lower-case address
  nonce TEXT NOT NULL,              -- decimal
  voucher TEXT NOT NULL,            -- the x-stepproof-voucher value (protocol/vouchers/wire.ts)
  signature TEXT NOT NULL,
  state TEXT NOT NULL,              -- generating | generated | batched | failed
  max_charge TEXT NOT NULL,
  expiry INTEGER NOT NULL,
  trace_root TEXT,
  output_root TEXT,
  output_token_ids TEXT,            -- JSON array
  batch_id TEXT,
  leaf_index INTEGER,
  job_id TEXT,                      -- its JobEscrow id once moved there for a dispute
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS voucher_jobs_nonce ON voucher_jobs (client, nonce);
CREATE INDEX IF NOT EXISTS voucher_jobs_state ON voucher_jobs (state);
CREATE TABLE IF NOT EXISTS voucher_batches (
  batch_id TEXT PRIMARY KEY,
  slot TEXT NOT NULL,
  state TEXT NOT NULL,              -- sending | committed | claimed | voided
  header TEXT,                      -- JSON, as last known (adoptions and challenges change it)
  debits TEXT NOT NULL,             -- JSON
  voucher_hashes TEXT NOT NULL,     -- JSON array, in leaf order
  commit_block TEXT,
  updated_at INTEGER NOT NULL
);`;

export type VoucherJobRow = {
  voucherHash: Hex;
  client: Address;
  nonce: bigint;
  voucher: Voucher;
  signature: Hex;
  state: "generating" | "generated" | "batched" | "failed";
  expiry: number;
  traceRoot?: Hex;
  outputRoot?: Hex;
  outputTokenIds?: number[];
  /** The key of its batch's row (VoucherBatchRow.key): look the batch up with `batch()`. */
  batchId?: string;
  leafIndex?: number;
  jobId?: bigint;
  createdAt: number;
};

export type VoucherBatchRow = {
  /** The row's key: the batch id, or `<batchId>:<ms>` once a later batch reused the slot. */
  key: string;
  /** The on-chain batch id, keccak256(prover, slot). */
  batchId: Hex;
  slot: bigint;
  state: "sending" | "committed" | "claimed" | "voided";
  header?: BatchHeader;
  debits: Debit[];
  voucherHashes: Hex[];
  commitBlock?: bigint;
};

type RawJob = Record<string, string | number | null>;

/**
 * The prover's voucher jobs and batches (PROTOCOL §5.8) in its SQLite database: a voucher is
 * claimed before generation (one row per (client, nonce): a nonce is served once), generated
 * jobs wait for the next batch, and a batch row is written before its commit is sent, so a
 * crash between the two is resumed, not forgotten.
 */
export class VoucherJobs {
  constructor(readonly db: DatabaseSync) {
    db.exec(SCHEMA);
  }

  /** Claim a voucher for generation; false when its (client, nonce) or hash is taken. */
  claim(voucherHash: Hex, voucher: Voucher, signature: Hex, nowMs = Date.now()): boolean {
    try {
      this.db
        .prepare("INSERT INTO voucher_jobs (voucher_hash, client, nonce, voucher, signature, state, max_charge, expiry, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'generating', ?, ?, ?, ?)")
        .run(voucherHash.toLowerCase(), voucher.client.toLowerCase(), voucher.nonce.toString(), encodeVoucherHeader(voucher, signature), signature, voucherMaxCharge(voucher).toString(), Number(voucher.expiry), nowMs, nowMs);
      return true;
    } catch (err) {
      if (/UNIQUE|PRIMARY KEY/i.test(String(err))) return false;
      throw err;
    }
  }

  /** Forget a claim whose generation failed (nothing was sent; the voucher can be served again). */
  release(voucherHash: Hex): void {
    this.db.prepare("DELETE FROM voucher_jobs WHERE voucher_hash = ? AND state = 'generating'").run(voucherHash.toLowerCase());
  }

  markGenerated(voucherHash: Hex, r: { traceRoot: Hex; outputRoot: Hex; outputTokenIds: number[] }): void {
    this.db
      .prepare("UPDATE voucher_jobs SET state = 'generated', trace_root = ?, output_root = ?, output_token_ids = ?, updated_at = ? WHERE voucher_hash = ?")
      .run(r.traceRoot, r.outputRoot, JSON.stringify(r.outputTokenIds), Date.now(), voucherHash.toLowerCase());
  }

  /** Jobs that can no longer be charged (voucher expired, deposit gone): never batched; the caller logs why. */
  markFailed(voucherHashes: readonly Hex[]): void {
    const st = this.db.prepare("UPDATE voucher_jobs SET state = 'failed', updated_at = ? WHERE voucher_hash = ? AND state IN ('generated', 'generating')");
    for (const h of voucherHashes) st.run(Date.now(), h.toLowerCase());
  }

  job(voucherHash: Hex): VoucherJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM voucher_jobs WHERE voucher_hash = ?").get(voucherHash.toLowerCase()) as RawJob | undefined;
    return r ? rowOf(r) : undefined;
  }

  jobByJobId(jobId: bigint): VoucherJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM voucher_jobs WHERE job_id = ?").get(jobId.toString()) as RawJob | undefined;
    return r ? rowOf(r) : undefined;
  }

  /** The job at leaf `index` of a batch. */
  jobAt(batchId: Hex, index: number): VoucherJobRow | undefined {
    const r = this.db.prepare("SELECT * FROM voucher_jobs WHERE batch_id = ? AND leaf_index = ?").get(batchId.toLowerCase(), index) as RawJob | undefined;
    return r ? rowOf(r) : undefined;
  }

  /** Generated jobs not yet in a batch, oldest first. */
  unbatched(): VoucherJobRow[] {
    return (this.db.prepare("SELECT * FROM voucher_jobs WHERE state = 'generated' ORDER BY created_at").all() as RawJob[]).map(rowOf);
  }

  /** Per client, the lowest nonce still generating (a batch must not charge past it, §5.8). */
  lowestGenerating(): Map<string, bigint> {
    const rows = this.db.prepare("SELECT client, MIN(CAST(nonce AS INTEGER)) AS n FROM voucher_jobs WHERE state = 'generating' GROUP BY client").all() as { client: string; n: number }[];
    return new Map(rows.map((r) => [r.client.toLowerCase(), BigInt(r.n)]));
  }

  /** Jobs generating or generated and not yet batched: a commit is coming. */
  pipelined(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM voucher_jobs WHERE state IN ('generating', 'generated')").get() as { n: number }).n;
  }

  /** The next nonce this node expects of `client`, given the chain's, and what its accepted unbatched vouchers may charge. */
  accountView(client: Address, chainNextNonce: bigint): { nextNonce: bigint; outstanding: bigint } {
    const rows = this.db.prepare("SELECT nonce, max_charge FROM voucher_jobs WHERE client = ? AND state IN ('generating', 'generated')").all(client.toLowerCase()) as { nonce: string; max_charge: string }[];
    const top = this.db.prepare("SELECT MAX(CAST(nonce AS INTEGER)) AS n FROM voucher_jobs WHERE client = ?").get(client.toLowerCase()) as { n: number | null };
    const local = top.n === null ? 0n : BigInt(top.n) + 1n;
    return { nextNonce: local > chainNextNonce ? local : chainNextNonce, outstanding: rows.reduce((s, r) => s + BigInt(r.max_charge), 0n) };
  }

  /**
   * Record a batch about to be sent (state sending) and tie its jobs to it. A slot is reused
   * once its batch settles (or in the transaction that claims it), and the batch id is the
   * slot's: the previous batch's row and its jobs move to an archive key (`<batchId>:<ms>`), so
   * they keep answering for the old batch. Returns that key, if a previous batch was archived.
   */
  beginBatch(batchId: Hex, slot: bigint, debits: readonly Debit[], voucherHashes: readonly Hex[]): string | undefined {
    const id = batchId.toLowerCase();
    this.db.exec("BEGIN");
    try {
      let archived: string | undefined;
      if (this.db.prepare("SELECT 1 FROM voucher_batches WHERE batch_id = ? AND state != 'sending'").get(id)) {
        archived = `${id}:${Date.now()}`;
        this.db.prepare("UPDATE voucher_batches SET batch_id = ? WHERE batch_id = ?").run(archived, id);
        this.db.prepare("UPDATE voucher_jobs SET batch_id = ? WHERE batch_id = ?").run(archived, id);
      }
      this.db
        .prepare("INSERT OR REPLACE INTO voucher_batches (batch_id, slot, state, debits, voucher_hashes, updated_at) VALUES (?, ?, 'sending', ?, ?, ?)")
        .run(batchId.toLowerCase(), slot.toString(), JSON.stringify(debits.map(debitToJson)), JSON.stringify(voucherHashes.map((h) => h.toLowerCase())), Date.now());
      const st = this.db.prepare("UPDATE voucher_jobs SET state = 'batched', batch_id = ?, leaf_index = ?, updated_at = ? WHERE voucher_hash = ?");
      voucherHashes.forEach((h, i) => st.run(batchId.toLowerCase(), i, Date.now(), h.toLowerCase()));
      this.db.exec("COMMIT");
      return archived;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /**
   * The archive key of the batch a `sending` batch is taking the slot of (beginBatch moved it
   * there) while that batch is not yet claimed: what a paired claim settles, or what gets the
   * slot back if the send never lands.
   */
  archivedOf(batchId: Hex): string | undefined {
    const row = this.db.prepare("SELECT batch_id FROM voucher_batches WHERE batch_id LIKE ? AND state = 'committed' ORDER BY updated_at DESC LIMIT 1").get(`${batchId.toLowerCase()}:%`) as { batch_id: string } | undefined;
    return row?.batch_id;
  }

  /** The send failed before anything reached the chain: the jobs go back to waiting (and an archived predecessor comes back). */
  abandonBatch(batchId: Hex, archived?: string): void {
    const id = batchId.toLowerCase();
    this.db.exec("BEGIN");
    this.db.prepare("UPDATE voucher_jobs SET state = 'generated', batch_id = NULL, leaf_index = NULL WHERE batch_id = ?").run(id);
    this.db.prepare("DELETE FROM voucher_batches WHERE batch_id = ? AND state = 'sending'").run(id);
    if (archived) {
      this.db.prepare("UPDATE voucher_batches SET batch_id = ? WHERE batch_id = ?").run(id, archived);
      this.db.prepare("UPDATE voucher_jobs SET batch_id = ? WHERE batch_id = ?").run(id, archived);
    }
    this.db.exec("COMMIT");
  }

  /** `batchId`: a live batch's id, or an archived batch's key. */
  setBatch(batchId: Hex | string, p: { state: VoucherBatchRow["state"]; header?: BatchHeader; commitBlock?: bigint }): void {
    const cur = this.batch(batchId);
    this.db
      .prepare("UPDATE voucher_batches SET state = ?, header = ?, commit_block = ?, updated_at = ? WHERE batch_id = ?")
      .run(p.state, (() => { const h = p.header ?? cur?.header; return h ? JSON.stringify(batchHeaderToJson(h)) : null; })(), (p.commitBlock ?? cur?.commitBlock)?.toString() ?? null, Date.now(), batchId.toLowerCase());
  }

  setAdopted(batchId: Hex | string, index: number, jobId: bigint): void {
    this.db.prepare("UPDATE voucher_jobs SET job_id = ?, updated_at = ? WHERE batch_id = ? AND leaf_index = ?").run(jobId.toString(), Date.now(), batchId.toLowerCase(), index);
  }

  /** A batch by its id (the live one of its slot) or by an archive key (a job's `batchId` may be one). */
  batch(batchId: Hex | string): VoucherBatchRow | undefined {
    const r = this.db.prepare("SELECT * FROM voucher_batches WHERE batch_id = ?").get(batchId.toLowerCase()) as RawJob | undefined;
    return r ? batchOf(r) : undefined;
  }

  batchesIn(states: readonly VoucherBatchRow["state"][]): VoucherBatchRow[] {
    return (this.db.prepare(`SELECT * FROM voucher_batches WHERE state IN (${states.map(() => "?").join(",")}) ORDER BY CAST(slot AS INTEGER)`).all(...states) as RawJob[]).map(batchOf);
  }

  /** A slot free for the next batch: one whose batch settled, else the next unused one. */
  freeSlot(): bigint {
    const used = this.db.prepare("SELECT slot, state FROM voucher_batches").all() as { slot: string; state: string }[];
    const busy = new Set(used.filter((u) => u.state === "sending" || u.state === "committed").map((u) => u.slot));
    const settled = used.filter((u) => !busy.has(u.slot)).map((u) => BigInt(u.slot)).sort((a, b) => (a < b ? -1 : 1));
    if (settled.length > 0) return settled[0]!;
    return used.reduce((m, u) => (BigInt(u.slot) >= m ? BigInt(u.slot) + 1n : m), 0n);
  }

  countBatchesByState(): Record<string, number> {
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM voucher_batches GROUP BY state").all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  countByState(): Record<string, number> {
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM voucher_jobs GROUP BY state").all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }
}

function rowOf(r: RawJob): VoucherJobRow {
  return {
    voucherHash: r["voucher_hash"] as Hex,
    client: r["client"] as Address,
    nonce: BigInt(r["nonce"] as string),
    voucher: decodeVoucherHeader(r["voucher"] as string).voucher,
    signature: r["signature"] as Hex,
    state: r["state"] as VoucherJobRow["state"],
    expiry: Number(r["expiry"]),
    ...(r["trace_root"] ? { traceRoot: r["trace_root"] as Hex } : {}),
    ...(r["output_root"] ? { outputRoot: r["output_root"] as Hex } : {}),
    ...(r["output_token_ids"] ? { outputTokenIds: JSON.parse(r["output_token_ids"] as string) as number[] } : {}),
    ...(r["batch_id"] ? { batchId: r["batch_id"] as string } : {}),
    ...(r["leaf_index"] !== null && r["leaf_index"] !== undefined ? { leafIndex: Number(r["leaf_index"]) } : {}),
    ...(r["job_id"] ? { jobId: BigInt(r["job_id"] as string) } : {}),
    createdAt: Number(r["created_at"]),
  };
}

function batchOf(r: RawJob): VoucherBatchRow {
  const header = r["header"] ? (JSON.parse(r["header"] as string) as unknown) : null;
  const key = r["batch_id"] as string;
  return {
    key,
    batchId: key.split(":")[0] as Hex,
    slot: BigInt(r["slot"] as string),
    state: r["state"] as VoucherBatchRow["state"],
    ...(header ? { header: batchHeaderFromJson(header) } : {}),
    debits: (JSON.parse(r["debits"] as string) as unknown[]).map(debitFromJson),
    voucherHashes: JSON.parse(r["voucher_hashes"] as string) as Hex[],
    ...(r["commit_block"] ? { commitBlock: BigInt(r["commit_block"] as string) } : {}),
  };
}
