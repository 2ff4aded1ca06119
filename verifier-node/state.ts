import type { DatabaseSync } from "node:sqlite";
import { keccak256, toHex, type Hex } from "viem";
import { openNodeDatabase } from "../protocol/node/database.js";
import { LOG_CURSOR_SCHEMA } from "../protocol/node/log-follower.js";
import type { JobCheckFailure } from "./check-job.js";

/** What the verifier knows about a committed job; every state is re-derivable from chain + prover. */
export type CheckedJobState =
  | "new" // seen in a ResultCommitted log, not looked at yet
  | "skipped" // not sampled, or no longer Committed on-chain
  | "passed" // every sampled layer within thresholds
  | "failed" // a sampled layer beyond threshold: a dispute candidate
  | "unprovable" // beyond threshold but no element violates its tolerance: nothing to win
  | "disputed" // a dispute is open
  | "withheld" // the prover did not serve the trace
  | "forced" // a TraceAvailability challenge is open for it (PROTOCOL §8.1)
  | "answered" // the prover published the demanded leaves on-chain (it holds its trace)
  | "unavailable" // the challenge went unanswered: the job was slashed
  | "error"; // could not check (retried on the next tick)

export type CheckedJob = {
  jobId: bigint;
  /** Read from the job on-chain when it is checked (ResultCommitted does not carry it). */
  prover?: Hex;
  traceRoot: Hex;
  state: CheckedJobState;
  layers: number[];
  failure?: JobCheckFailure;
  detail?: string;
  attempts: number;
};

const SCHEMA = `
${LOG_CURSOR_SCHEMA}
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  prover TEXT,
  trace_root TEXT NOT NULL,
  state TEXT NOT NULL,
  layers TEXT NOT NULL DEFAULT '[]',
  failure TEXT,
  detail TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state);
`;

/** Detail prefix of a sampled job that settled before it was checked. */
export const SETTLED_UNCHECKED = "settled unchecked";

export class VerifierState {
  readonly db: DatabaseSync;

  constructor(file: string) {
    this.db = openNodeDatabase(file, SCHEMA);
  }

  /** The local sampling secret: created once, kept across restarts, never sent anywhere. */
  secret(): Hex {
    const row = this.db.prepare("SELECT value FROM settings WHERE key = 'secret'").get() as { value: Hex } | undefined;
    if (row) return row.value;
    const fresh = keccak256(toHex(crypto.getRandomValues(new Uint8Array(32))));
    this.db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES ('secret', ?)").run(fresh);
    return (this.db.prepare("SELECT value FROM settings WHERE key = 'secret'").get() as { value: Hex }).value;
  }

  /**
   * Jobs that settled (left Committed on-chain) before this verifier checked them: a sampled job
   * nobody checked in time (issue #15: a verifier that cannot keep up must say so).
   */
  settledUnchecked(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state = 'skipped' AND detail LIKE ?").get(`${SETTLED_UNCHECKED}%`) as { n: number }).n;
  }

  /** A number kept across restarts (the mean check time), or undefined. */
  stat(key: string): number | undefined {
    const row = this.db.prepare("SELECT value FROM settings WHERE key = ?").get(`stat:${key}`) as { value: string } | undefined;
    return row ? Number(row.value) : undefined;
  }

  setStat(key: string, value: number): void {
    this.db.prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(`stat:${key}`, String(value));
  }

  /** Record a commitment seen in a log; a replayed log (after a crash or reorg) is a no-op. */
  recordCommitted(jobId: bigint, traceRoot: Hex): void {
    this.db
      .prepare("INSERT INTO jobs (job_id, trace_root, state, updated_at) VALUES (?, ?, 'new', ?) ON CONFLICT(job_id) DO NOTHING")
      .run(jobId.toString(), traceRoot, Date.now());
  }

  update(jobId: bigint, patch: Partial<Pick<CheckedJob, "prover" | "state" | "layers" | "failure" | "detail">> & { attempt?: boolean }): void {
    const cur = this.get(jobId);
    if (!cur) throw new Error(`unknown job ${jobId}`);
    const next = { ...cur, ...patch };
    this.db
      .prepare("UPDATE jobs SET prover = ?, state = ?, layers = ?, failure = ?, detail = ?, attempts = attempts + ?, updated_at = ? WHERE job_id = ?")
      .run(next.prover ?? null, next.state, JSON.stringify(next.layers), next.failure ? JSON.stringify(next.failure) : null, next.detail ?? null, patch.attempt ? 1 : 0, Date.now(), jobId.toString());
  }

  get(jobId: bigint): CheckedJob | undefined {
    const r = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toString()) as Record<string, string | number | null> | undefined;
    return r ? toJob(r) : undefined;
  }

  byState(...states: CheckedJobState[]): CheckedJob[] {
    const rows = this.db.prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => "?").join(",")}) ORDER BY CAST(job_id AS INTEGER)`).all(...states) as Record<string, string | number | null>[];
    return rows.map(toJob);
  }

  all(): CheckedJob[] {
    return (this.db.prepare("SELECT * FROM jobs ORDER BY CAST(job_id AS INTEGER)").all() as Record<string, string | number | null>[]).map(toJob);
  }

  close(): void {
    this.db.close();
  }
}

function toJob(r: Record<string, string | number | null>): CheckedJob {
  return {
    jobId: BigInt(r["job_id"] as string),
    ...(r["prover"] ? { prover: r["prover"] as Hex } : {}),
    traceRoot: r["trace_root"] as Hex,
    state: r["state"] as CheckedJobState,
    layers: JSON.parse(r["layers"] as string) as number[],
    ...(r["failure"] ? { failure: JSON.parse(r["failure"] as string) } : {}),
    ...(r["detail"] ? { detail: r["detail"] as string } : {}),
    attempts: Number(r["attempts"]),
  };
}
