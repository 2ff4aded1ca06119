import type { DatabaseSync } from "node:sqlite";
import { encodeAbiParameters, keccak256, type Hex } from "viem";
import { jobEscrowAbi, modelRegistryAbi, traceAvailabilityAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { challengeAvailability, claimUnanswered, type TraceLeaf } from "../protocol/chain/actions/availability.js";
import { TransactionError } from "../protocol/chain/actions/send.js";
import { TOKEN_TENSOR_ID } from "../protocol/evaluator/layout.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

/** TraceAvailability.Status. */
const Status = { None: 0, Open: 1, Answered: 2, ProverFailed: 3, Cancelled: 4 } as const;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS availability (
  job_id TEXT PRIMARY KEY,
  challenge_id TEXT NOT NULL,
  leaves TEXT NOT NULL,
  created_at INTEGER NOT NULL
);`;

/** What became of the verifier's availability challenges this tick. */
export type AvailabilityReport = { answered: bigint[]; failed: bigint[]; cancelled: bigint[] };

/**
 * Spot-check leaves for a job whose prover did not serve the trace (PROTOCOL §8.1): the last
 * token and the last position's state of the highest needed boundary (they exist only if the
 * committed counts are true), then pseudo-random rows of the boundaries the sampled check
 * needs, keyed by the verifier's secret so the prover cannot predict them.
 */
export function spotCheckLeaves(
  secret: Hex,
  jobId: bigint,
  p: { tokens: number; hidden: number; chunkSize: number; boundaries: readonly number[]; include?: readonly TraceLeaf[] },
  count = 16,
): TraceLeaf[] {
  const nd = Math.ceil(p.hidden / p.chunkSize);
  const top = Math.max(0, ...p.boundaries);
  const leaves: TraceLeaf[] = [{ tensor: TOKEN_TENSOR_ID, row: p.tokens - 1, chunk: 0 }];
  if (p.tokens >= 2) leaves.push({ tensor: top, row: p.tokens - 2, chunk: 0 });
  // Leaves the caller must have (an auditor's probe, PROTOCOL §9.1) come before the random ones.
  for (const l of p.include ?? []) if (!leaves.some((x) => x.tensor === l.tensor && x.row === l.row && x.chunk === l.chunk)) leaves.push(l);
  const key = (l: TraceLeaf) => `${l.tensor}:${l.row}:${l.chunk}`;
  const seen = new Set(leaves.map(key));
  const space = Math.max(0, p.tokens - 1) * nd * Math.max(1, p.boundaries.length);
  for (let i = 0; leaves.length < Math.min(count, space + 1) && i < 4 * count; i++) {
    const r = BigInt(keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint256[]" }], [secret, [jobId, 2n, BigInt(i)]])));
    const b = p.boundaries.length ? p.boundaries[Number(r % BigInt(p.boundaries.length))]! : 0;
    const leaf = { tensor: b, row: Number((r >> 16n) % BigInt(Math.max(1, p.tokens - 1))), chunk: Number((r >> 64n) % BigInt(nd)) };
    if (!seen.has(key(leaf))) {
      seen.add(key(leaf));
      leaves.push(leaf);
    }
  }
  return leaves;
}

/**
 * Forces withheld traces on-chain: one TraceAvailability challenge per job the prover did not
 * serve, recorded in the verifier's SQLite database before anything else so a restart resumes
 * it; each tick claims the challenges whose deadline passed unanswered (the job is slashed).
 */
export class AvailabilityDriver {
  readonly #db: DatabaseSync;

  constructor(private readonly clients: StepproofClients, db: DatabaseSync, private readonly log?: (line: string) => void) {
    this.#db = db;
    this.#db.exec(SCHEMA);
  }

  /**
   * Challenge spot-check leaves of a withheld job (once per job); returns the challenge id, or
   * undefined while the job's audit draw is not known yet (no challenge may open in the commit
   * block itself, PROTOCOL §9.1: try again on the next tick).
   */
  async force(p: { jobId: bigint; secret: Hex; boundaries: readonly number[]; include?: readonly TraceLeaf[] }): Promise<Hex | undefined> {
    const row = this.#db.prepare("SELECT challenge_id FROM availability WHERE job_id = ?").get(p.jobId.toString()) as { challenge_id: Hex } | undefined;
    if (row) return row.challenge_id;
    const { jobEscrow, modelRegistry } = this.clients.deployment.contracts;
    const read = this.clients.publicClient.readContract.bind(this.clients.publicClient);
    const job = await read({ address: jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [p.jobId] });
    const model = await read({ address: modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [job.modelId] });
    const leaves = spotCheckLeaves(p.secret, p.jobId, { tokens: job.inputTokens + job.outputTokens, hidden: model.arch.hidden, chunkSize: model.encoding.chunkSize, boundaries: p.boundaries, ...(p.include ? { include: p.include } : {}) });
    let challengeId: Hex;
    try {
      ({ challengeId } = await challengeAvailability(this.clients, { jobId: p.jobId, leaves }));
    } catch (err) {
      if (err instanceof TransactionError && err.revertName === "DrawNotReady") return undefined;
      throw err;
    }
    this.#db.prepare("INSERT OR IGNORE INTO availability (job_id, challenge_id, leaves, created_at) VALUES (?, ?, ?, ?)").run(p.jobId.toString(), challengeId, JSON.stringify(leaves), Date.now());
    this.log?.(`job ${p.jobId}: trace withheld, ${leaves.length} leaves demanded on-chain (challenge ${challengeId.slice(0, 10)}…)`);
    return challengeId;
  }

  /** Settle what is due: claim unanswered challenges past their deadline, report answers. */
  async advance(): Promise<AvailabilityReport> {
    const report: AvailabilityReport = { answered: [], failed: [], cancelled: [] };
    const rows = this.#db.prepare("SELECT job_id, challenge_id FROM availability").all() as { job_id: string; challenge_id: Hex }[];
    const av = this.clients.deployment.contracts.traceAvailability;
    const now = await getChainTime(this.clients);
    for (const r of rows) {
      const jobId = BigInt(r.job_id);
      const c = await this.clients.publicClient.readContract({ address: av, abi: traceAvailabilityAbi, functionName: "getChallenge", args: [r.challenge_id] });
      let status: number = c.status;
      if (status === Status.Open && now > c.deadline) {
        await claimUnanswered(this.clients, r.challenge_id);
        status = Status.ProverFailed;
        this.log?.(`job ${jobId}: availability challenge unanswered — job slashed`);
      }
      if (status === Status.Open) continue;
      if (status === Status.Answered) report.answered.push(jobId);
      else if (status === Status.ProverFailed) report.failed.push(jobId);
      else report.cancelled.push(jobId);
      this.#db.prepare("DELETE FROM availability WHERE job_id = ?").run(r.job_id);
    }
    return report;
  }
}
