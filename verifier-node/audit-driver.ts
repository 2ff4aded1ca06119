import type { DatabaseSync } from "node:sqlite";
import type { Hex } from "viem";
import type { StepproofClients } from "../protocol/chain/client.js";
import { AuditState, claimAuditPay, fixDraw, readAssignment, readAudit, recordMiss, reportAudit, type AuditAssignment } from "../protocol/chain/actions/audits.js";
import { TransactionError } from "../protocol/chain/actions/send.js";
import type { TraceSource } from "./trace-source.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

/**
 * How this verifier answers its audits. `honest` re-executes the assigned boundaries and the
 * head step; `lazy` reports agreement after fetching only the probe leaf — a deviation kept for
 * the tests and simulations that show canaries catch it (PROTOCOL §9.3). Never run it for real:
 * the first audited canary costs the whole stake.
 */
export type AuditMode = "honest" | "lazy";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audits (
  job_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  deadline INTEGER NOT NULL,
  vests_at INTEGER,
  pay TEXT,
  detail TEXT,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS others_audits (
  job_id TEXT PRIMARY KEY,
  auditor TEXT NOT NULL,
  deadline INTEGER NOT NULL
);`;

/** This verifier's side of a committed job's audit draw (PROTOCOL §9.1). */
export type AuditLookup =
  | { kind: "wait" } // the seed block is the newest block: the draw is not known yet
  | { kind: "mine"; assignment: AuditAssignment } // assigned to this verifier, not yet answered
  | { kind: "other"; assignment: AuditAssignment }; // unaudited, someone else's, or already answered

export type AuditRow = { jobId: bigint; state: "assigned" | "reported" | "paid" | "forfeited"; deadline: number; vestsAt?: number; pay?: bigint; detail?: string };

/**
 * The verifier's audits: finds the jobs the protocol assigned to it, fixes their draws at once
 * (so none lapses), reports agreement with the probe leaf when its checks pass, and claims the
 * pay once vested. Every step is recorded in SQLite first, so a restart resumes where it was.
 */
export class AuditDriver {
  readonly #db: DatabaseSync;

  constructor(
    readonly clients: StepproofClients,
    db: DatabaseSync,
    readonly traceSource: TraceSource,
    readonly mode: AuditMode = "honest",
    readonly log?: (line: string) => void,
  ) {
    this.#db = db;
    this.#db.exec(SCHEMA);
  }

  get #me(): Hex {
    return this.clients.walletClient!.account.address.toLowerCase() as Hex;
  }

  /** Whether job `jobId` is this verifier's audit and still needs an answer. */
  async lookup(jobId: bigint): Promise<AuditLookup> {
    const assignment = await readAssignment(this.clients, jobId);
    if (assignment.state === AuditState.Pending) return { kind: "wait" };
    if (assignment.auditor.toLowerCase() !== this.#me || assignment.state !== AuditState.Assigned) {
      // Another auditor's open assignment: watched, so an absent auditor's miss is recorded at
      // its deadline rather than at settlement (the sooner it is ejected, the fewer jobs go
      // unaudited, PROTOCOL §9.2).
      if (assignment.state === AuditState.Assigned) {
        this.#db.prepare("INSERT OR IGNORE INTO others_audits (job_id, auditor, deadline) VALUES (?, ?, ?)").run(jobId.toString(), assignment.auditor, Number(assignment.deadline));
      }
      return { kind: "other", assignment };
    }
    const stored = await readAudit(this.clients, jobId);
    // The view computed the draw from the seed block's hash: fix it on-chain before the hash
    // leaves the 256-block window, so the assignment (and this verifier's priority) stands.
    if (stored.state === AuditState.Pending) await fixDraw(this.clients, jobId);
    this.#db
      .prepare("INSERT INTO audits (job_id, state, deadline, updated_at) VALUES (?, 'assigned', ?, ?) ON CONFLICT(job_id) DO NOTHING")
      .run(jobId.toString(), Number(assignment.deadline), Date.now());
    this.log?.(`job ${jobId}: audit assigned to this verifier (boundaries ${assignment.boundaries.join(", ")} + head, deadline ${assignment.deadline})`);
    return { kind: "mine", assignment };
  }

  isMine(jobId: bigint): boolean {
    return this.get(jobId)?.state === "assigned";
  }

  /** Agree: fetch the probe leaf from the prover (verified against the trace root) and report it. */
  async report(job: { jobId: bigint; prover: Hex; traceRoot: Hex }, assignment: AuditAssignment, detail: string): Promise<void> {
    const { probe } = assignment;
    const leaf = await this.traceSource.fetchLeaf({ jobId: job.jobId, prover: job.prover, traceRoot: job.traceRoot, layer: probe.boundary, row: probe.row, chunk: probe.chunk });
    await reportAudit(this.clients, { jobId: job.jobId, chunk: leaf.chunk, proof: leaf.proof });
    const audit = await readAudit(this.clients, job.jobId);
    this.#db
      .prepare("UPDATE audits SET state = 'reported', vests_at = ?, pay = ?, detail = ?, updated_at = ? WHERE job_id = ?")
      .run(Number(audit.vestsAt), audit.pay.toString(), detail, Date.now(), job.jobId.toString());
    this.log?.(`job ${job.jobId}: audit reported (${detail}); pay ${audit.pay} vests at ${audit.vestsAt}`);
  }

  /** The assignment of one of this verifier's recorded audits (to report after an assessment). */
  async assignment(jobId: bigint): Promise<AuditAssignment> {
    return readAssignment(this.clients, jobId);
  }

  /**
   * Record the misses of other auditors whose watched assignments passed their deadline
   * unanswered (AuditManager.recordMiss); returns how many were recorded.
   */
  async recordOverdueMisses(): Promise<number> {
    const now = Number(await getChainTime(this.clients));
    const due = this.#db.prepare("SELECT job_id, auditor FROM others_audits WHERE deadline < ? ORDER BY deadline LIMIT 20").all(now) as { job_id: string; auditor: Hex }[];
    let recorded = 0;
    for (const r of due) {
      const jobId = BigInt(r.job_id);
      const audit = await readAudit(this.clients, jobId);
      if (audit.state === AuditState.Assigned) {
        try {
          await recordMiss(this.clients, { jobId, auditor: r.auditor });
          recorded++;
          this.log?.(`job ${jobId}: auditor ${r.auditor} left its assignment unanswered; miss recorded`);
        } catch (err) {
          // Someone else recorded it, or the job settled first: nothing left to do.
          if (!(err instanceof TransactionError)) throw err;
        }
      }
      this.#db.prepare("DELETE FROM others_audits WHERE job_id = ?").run(r.job_id);
    }
    return recorded;
  }

  /** Claim every reported audit whose pay has vested; returns the amount claimed. */
  async claimVested(): Promise<bigint> {
    const now = Number(await getChainTime(this.clients));
    const due = (this.#db.prepare("SELECT job_id FROM audits WHERE state = 'reported' AND vests_at <= ? ORDER BY CAST(job_id AS INTEGER) LIMIT 50").all(now) as { job_id: string }[]).map((r) => BigInt(r.job_id));
    if (due.length === 0) return 0n;
    const mark = this.#db.prepare("UPDATE audits SET state = ?, detail = ?, updated_at = ? WHERE job_id = ?");
    try {
      await claimAuditPay(this.clients, due);
    } catch (err) {
      // Ejected (a canary this verifier approved, or too many misses): the pay is forfeited.
      if (err instanceof TransactionError && err.revertName === "Ejected") {
        for (const id of due) mark.run("forfeited", "ejected from the audit pools", Date.now(), id.toString());
        this.log?.(`audit pay of ${due.length} jobs forfeited: this verifier was ejected`);
        return 0n;
      }
      throw err;
    }
    let total = 0n;
    for (const id of due) {
      total += BigInt(this.get(id)?.pay ?? 0n);
      mark.run("paid", "claimed", Date.now(), id.toString());
    }
    this.log?.(`claimed the pay of ${due.length} audits: ${total}`);
    return total;
  }

  get(jobId: bigint): AuditRow | undefined {
    const r = this.#db.prepare("SELECT * FROM audits WHERE job_id = ?").get(jobId.toString()) as Record<string, string | number | null> | undefined;
    return r ? toRow(r) : undefined;
  }

  all(): AuditRow[] {
    return (this.#db.prepare("SELECT * FROM audits ORDER BY CAST(job_id AS INTEGER)").all() as Record<string, string | number | null>[]).map(toRow);
  }
}

function toRow(r: Record<string, string | number | null>): AuditRow {
  return {
    jobId: BigInt(r["job_id"] as string),
    state: r["state"] as AuditRow["state"],
    deadline: Number(r["deadline"]),
    ...(r["vests_at"] !== null ? { vestsAt: Number(r["vests_at"]) } : {}),
    ...(r["pay"] !== null ? { pay: BigInt(r["pay"] as string) } : {}),
    ...(r["detail"] ? { detail: r["detail"] as string } : {}),
  };
}
