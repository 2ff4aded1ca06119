import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Address, Hex } from "viem";
import { ProverNodeError } from "../errors.js";

/**
 * The node's durable state (SQLite, node:sqlite). Everything the node must not forget across a
 * crash is written here BEFORE the action it enables: a job row before generation starts, the
 * result before the commit is broadcast, a signed transaction before it is sent. Everything
 * else is recomputed from the chain each loop.
 *
 * Job states: generating → generated (result on disk and here) → committed → settled;
 * `failed` (generation failed, or the commit deadline passed: nothing more to do).
 */
export type JobState = "generating" | "generated" | "committed" | "settled" | "failed";

export type JobRow = {
  jobId: bigint;
  state: JobState;
  inputTokens: number;
  outputTokenIds: number[] | undefined;
  traceRoot: Hex | undefined;
  /** tokenRoot(outputTokenIds, inputTokens), what commitResult commits (PROTOCOL §3.4). */
  outputRoot: Hex | undefined;
  commitDeadline: number;
  corrupted: boolean;
  commitTx: Hex | undefined;
  error: string | undefined;
  /** The job's client (from the chain, recorded on first use): it may read the job's trace (PROTOCOL §5.7). */
  client: Hex | undefined;
};

export type TxState = "pending" | "mined" | "reverted" | "dropped";
export type TxRow = { hash: Hex; kind: string; key: string; nonce: number; raw: Hex; state: TxState; createdAt: number };

type RawJob = {
  job_id: string;
  state: string;
  input_tokens: number;
  output_token_ids: string | null;
  trace_root: string | null;
  output_root: string | null;
  commit_deadline: number;
  corrupted: number;
  commit_tx: string | null;
  error: string | null;
  client: string | null;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_token_ids TEXT,
  trace_root TEXT,
  output_root TEXT,
  commit_deadline INTEGER NOT NULL,
  corrupted INTEGER NOT NULL DEFAULT 0,
  commit_tx TEXT,
  error TEXT,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS txs (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  nonce INTEGER NOT NULL,
  raw TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_state ON txs(state);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export class ProverDb {
  readonly db: DatabaseSync;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new DatabaseSync(path.join(dataDir, "prover.sqlite"));
    // WAL + synchronous FULL: a row is on disk when the statement returns, even after SIGKILL.
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    this.db.exec(SCHEMA);
    // Databases of protocol v1 held keccak output hashes, which no v2 job can commit.
    const columns = this.db.prepare("PRAGMA table_info(jobs)").all() as { name: string }[];
    if (columns.some((c) => c.name === "output_hash")) throw new ProverNodeError(`${dataDir} holds a protocol v1 prover database (output_hash); start from an empty data directory`);
    // Added for signed trace reads and deadline-driven settlement (issue #15); older databases
    // gain the columns empty (a committed job without a deadline has it read once from chain).
    if (!columns.some((c) => c.name === "client")) this.db.exec("ALTER TABLE jobs ADD COLUMN client TEXT");
    if (!columns.some((c) => c.name === "challenge_deadline")) this.db.exec("ALTER TABLE jobs ADD COLUMN challenge_deadline INTEGER");
    this.db.exec("CREATE INDEX IF NOT EXISTS jobs_due ON jobs(state, challenge_deadline)");
  }

  close(): void {
    this.db.close();
  }

  /**
   * Claim a job for generation. Returns false when another row already holds it, unless that row
   * is a generation a crash interrupted (state generating, `reclaimable`): that one restarts.
   */
  claimJob(jobId: bigint, inputTokens: number, commitDeadline: number, reclaimable: (row: JobRow) => boolean): boolean {
    const existing = this.job(jobId);
    if (existing && !(existing.state === "generating" && reclaimable(existing))) return false;
    this.db
      .prepare("INSERT OR REPLACE INTO jobs (job_id, state, input_tokens, commit_deadline, updated_at) VALUES (?, 'generating', ?, ?, ?)")
      .run(jobId.toString(), inputTokens, commitDeadline, Date.now());
    return true;
  }

  markGenerated(jobId: bigint, r: { outputTokenIds: number[]; traceRoot: Hex; outputRoot: Hex; corrupted: boolean }): void {
    this.db
      .prepare("UPDATE jobs SET state = 'generated', output_token_ids = ?, trace_root = ?, output_root = ?, corrupted = ?, updated_at = ? WHERE job_id = ?")
      .run(JSON.stringify(r.outputTokenIds), r.traceRoot, r.outputRoot, r.corrupted ? 1 : 0, Date.now(), jobId.toString());
  }

  /**
   * A voucher job moved into the JobEscrow as `jobId` (PROTOCOL §5.8): from now on it is a
   * committed job like any other (trace reads, disputes, settlement), its trace under its voucher.
   */
  recordAdopted(jobId: bigint, r: { inputTokens: number; outputTokenIds: number[]; traceRoot: Hex; outputRoot: Hex; client: Address }): void {
    this.db
      .prepare("INSERT OR IGNORE INTO jobs (job_id, state, input_tokens, output_token_ids, trace_root, output_root, commit_deadline, client, updated_at) VALUES (?, 'committed', ?, ?, ?, ?, 0, ?, ?)")
      .run(jobId.toString(), r.inputTokens, JSON.stringify(r.outputTokenIds), r.traceRoot, r.outputRoot, r.client, Date.now());
  }

  setState(jobId: bigint, state: JobState, extra: { commitTx?: Hex; error?: string } = {}): void {
    this.db
      .prepare("UPDATE jobs SET state = ?, commit_tx = COALESCE(?, commit_tx), error = COALESCE(?, error), updated_at = ? WHERE job_id = ?")
      .run(state, extra.commitTx ?? null, extra.error ?? null, Date.now(), jobId.toString());
  }

  /** The job's on-chain challenge deadline (from its commitment; an extension moves it, PROTOCOL §9.1). */
  setChallengeDeadline(jobId: bigint, deadline: bigint): void {
    this.db.prepare("UPDATE jobs SET challenge_deadline = ? WHERE job_id = ?").run(Number(deadline), jobId.toString());
  }

  /** Committed jobs whose challenge deadline is not recorded yet (committed since the last pass), at most `limit`. */
  committedWithoutDeadline(limit: number): bigint[] {
    return (this.db.prepare("SELECT job_id FROM jobs WHERE state = 'committed' AND challenge_deadline IS NULL LIMIT ?").all(limit) as { job_id: string }[]).map((r) => BigInt(r.job_id));
  }

  /**
   * Committed jobs whose challenge deadline is before `now`: the only ones worth reading for
   * settlement, found by index, so a pass costs what is due, not every job ever committed.
   */
  dueJobs(now: bigint, limit: number): bigint[] {
    return (this.db.prepare("SELECT job_id FROM jobs WHERE state = 'committed' AND challenge_deadline < ? ORDER BY challenge_deadline LIMIT ?").all(Number(now), limit) as { job_id: string }[]).map((r) => BigInt(r.job_id));
  }

  /** Counts of the states a job passes through (by index: their rows are few); settled and failed grow with history and are left out. */
  countLive(): Record<string, number> {
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs WHERE state IN ('generating', 'generated', 'committed') GROUP BY state").all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  setClient(jobId: bigint, client: Hex): void {
    this.db.prepare("UPDATE jobs SET client = ? WHERE job_id = ?").run(client, jobId.toString());
  }

  deleteJob(jobId: bigint): void {
    this.db.prepare("DELETE FROM jobs WHERE job_id = ?").run(jobId.toString());
  }

  job(jobId: bigint): JobRow | undefined {
    const r = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toString()) as RawJob | undefined;
    return r ? toJob(r) : undefined;
  }

  jobsIn(...states: JobState[]): JobRow[] {
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(",")}) ORDER BY CAST(job_id AS INTEGER)`).all(...states) as RawJob[];
    return rows.map(toJob);
  }

  countByState(): Record<string, number> {
    const rows = this.db.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  insertTx(tx: Omit<TxRow, "state" | "createdAt">): void {
    this.db.prepare("INSERT OR IGNORE INTO txs (hash, kind, key, nonce, raw, state, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)").run(tx.hash, tx.kind, tx.key, tx.nonce, tx.raw, Date.now());
  }

  setTxState(hash: Hex, state: TxState): void {
    this.db.prepare("UPDATE txs SET state = ? WHERE hash = ?").run(state, hash);
  }

  pendingTxs(): TxRow[] {
    const rows = this.db.prepare("SELECT * FROM txs WHERE state = 'pending' ORDER BY nonce, created_at, rowid").all() as { hash: Hex; kind: string; key: string; nonce: number; raw: Hex; state: TxState; created_at: number }[];
    return rows.map((r) => ({ hash: r.hash, kind: r.kind, key: r.key, nonce: r.nonce, raw: r.raw, state: r.state, createdAt: r.created_at }));
  }

  txsFor(kind: string, key: string): TxRow[] {
    const rows = this.db.prepare("SELECT * FROM txs WHERE kind = ? AND key = ? ORDER BY created_at").all(kind, key) as { hash: Hex; kind: string; key: string; nonce: number; raw: Hex; state: TxState; created_at: number }[];
    return rows.map((r) => ({ hash: r.hash, kind: r.kind, key: r.key, nonce: r.nonce, raw: r.raw, state: r.state, createdAt: r.created_at }));
  }

  getCursor(name: string): string | undefined {
    return (this.db.prepare("SELECT value FROM cursor WHERE name = ?").get(name) as { value: string } | undefined)?.value;
  }

  setCursor(name: string, value: string): void {
    this.db.prepare("INSERT OR REPLACE INTO cursor (name, value) VALUES (?, ?)").run(name, value);
  }
}

function toJob(r: RawJob): JobRow {
  return {
    jobId: BigInt(r.job_id),
    state: r.state as JobState,
    inputTokens: r.input_tokens,
    outputTokenIds: r.output_token_ids ? (JSON.parse(r.output_token_ids) as number[]) : undefined,
    traceRoot: (r.trace_root ?? undefined) as Hex | undefined,
    outputRoot: (r.output_root ?? undefined) as Hex | undefined,
    commitDeadline: r.commit_deadline,
    corrupted: r.corrupted === 1,
    commitTx: (r.commit_tx ?? undefined) as Hex | undefined,
    error: r.error ?? undefined,
    client: (r.client ?? undefined) as Hex | undefined,
  };
}
