import type { DatabaseSync } from "node:sqlite";
import type { Address, Hex, Log } from "viem";
import type { StepproofClients } from "../protocol/chain/client.js";
import { modelRegistryAbi, nodeRegistryAbi, voucherEscrowAbi } from "../protocol/chain/generated/abi.js";
import { adoptBatchedJob, challengeLeaf } from "../protocol/chain/actions/vouchers.js";
import { followLogs } from "../protocol/node/log-follower.js";
import { batchHeaderFromJson, batchHeaderToJson, decodeLeafResponse, type BatchedLeaf } from "../protocol/vouchers/wire.js";
import { leafViolations } from "../protocol/vouchers/check.js";
import { batchHeaderHash, verifyJobLeaf, type BatchHeader } from "../protocol/vouchers/batch.js";
import { voucherDigest, voucherSigner } from "../protocol/vouchers/voucher.js";
import type { ModelSessions } from "../runtime/session.js";
import { boundariesFor, checkJobLayers, DEFAULT_LOGIT_TOLERANCE, type JobCheckFailure } from "./check-job.js";
import { sampleLayers, shouldCheckJob, type SamplingPolicy } from "./sampling.js";
import { TraceUnavailableError, type TraceSource } from "./trace-source.js";
import type { VerifierState } from "./state.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS followed_batches (
  batch_id TEXT NOT NULL,
  header TEXT NOT NULL,             -- JSON, as BatchCommitted emitted it
  next_index INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,              -- open | done
  PRIMARY KEY (batch_id, header)
);
CREATE INDEX IF NOT EXISTS followed_batches_open ON followed_batches (state);`;

export type BatchFollowerOptions = {
  clients: StepproofClients;
  db: DatabaseSync;
  traceSource: TraceSource;
  sessions: ReadonlyMap<Hex, ModelSessions>;
  policy: SamplingPolicy;
  secret: () => Hex;
  confirmations: number;
  maxLogRange: number;
  /** Leaves looked at per pass (each may re-execute a job). */
  leavesPerPass?: number;
  /** A job moved into the JobEscrow because its check failed: the node disputes it like any failed job. */
  onFraud: (p: { jobId: bigint; prover: Hex; traceRoot: Hex; layers: number[]; failure: JobCheckFailure; detail: string }) => void;
  /** A job moved into the JobEscrow because its prover did not serve the trace: the node forces it on-chain (§8.1). */
  onWithheld: (p: { jobId: bigint; prover: Hex; traceRoot: Hex; layers: number[]; detail: string }) => void;
  log?: (line: string) => void;
};

export type BatchFollowReport = { batches: number; leaves: number; challenged: number; adopted: number };

/**
 * A verifier's side of the voucher path (PROTOCOL §5.8): follow BatchCommitted, fetch each leaf
 * of a live batch from its prover with the client's voucher, and
 * - challenge the leaf on-chain when the prover does not serve it, when its proof does not hold
 *   under the committed root, or when the voucher does not allow it (the prover must answer or
 *   lose the batch);
 * - re-execute the sampled ones exactly as committed jobs are checked (their traces are read by
 *   voucher hash), and move a job whose check fails into the JobEscrow, where the node's step
 *   dispute driver proves it.
 */
export class BatchFollower {
  constructor(readonly o: BatchFollowerOptions) {
    o.db.exec(SCHEMA);
  }

  async tick(): Promise<BatchFollowReport> {
    const { o } = this;
    const report: BatchFollowReport = { batches: 0, leaves: 0, challenged: 0, adopted: 0 };
    const escrow = o.clients.deployment.contracts.voucherEscrow;
    if (!escrow) return report;
    const insert = o.db.prepare("INSERT OR IGNORE INTO followed_batches (batch_id, header, state) VALUES (?, ?, 'open')");
    for (;;) {
      const r = await followLogs({
        db: o.db,
        name: "BatchCommitted",
        client: o.clients.publicClient,
        address: escrow,
        abi: voucherEscrowAbi,
        eventName: "BatchCommitted",
        startBlock: BigInt(o.clients.deployment.startBlock),
        confirmations: o.confirmations,
        maxRange: o.maxLogRange,
        onLogs: (logs: Log[]) => {
          for (const log of logs as (Log & { args: { batchId: Hex; header: BatchHeader } })[]) {
            insert.run(log.args.batchId.toLowerCase(), JSON.stringify(batchHeaderToJson(log.args.header)));
            report.batches++;
          }
        },
      });
      if (!r) break;
    }
    const now = await getChainTime(o.clients);
    let budget = o.leavesPerPass ?? 16;
    const open = o.db.prepare("SELECT batch_id, header, next_index FROM followed_batches WHERE state = 'open'").all() as { batch_id: Hex; header: string; next_index: number }[];
    for (const b of open) {
      const header = batchHeaderFromJson(JSON.parse(b.header));
      const done = () => o.db.prepare("UPDATE followed_batches SET state = 'done' WHERE batch_id = ? AND header = ?").run(b.batch_id, b.header);
      // Past the window nothing can be disputed any more (an answered challenge's hold aside).
      if (now > header.challengeDeadline) {
        done();
        continue;
      }
      let index = b.next_index;
      const endpoint = index < header.leafCount && budget > 0 ? await this.#endpoint(header.prover) : undefined;
      for (; index < header.leafCount && budget > 0; index++, budget--) {
        report.leaves++;
        const outcome = await this.#checkLeaf(b.batch_id, header, index, endpoint);
        if (outcome === "challenged") report.challenged++;
        if (outcome === "adopted") report.adopted++;
      }
      o.db.prepare("UPDATE followed_batches SET next_index = ? WHERE batch_id = ? AND header = ?").run(index, b.batch_id, b.header);
      if (index >= header.leafCount) done();
      if (budget === 0) break;
    }
    return report;
  }

  async #checkLeaf(batchId: Hex, header: BatchHeader, index: number, endpoint: string | undefined): Promise<"passed" | "skipped" | "challenged" | "adopted"> {
    const { o } = this;
    const served = endpoint === undefined ? undefined : await this.#fetchLeaf(endpoint, batchId, index);
    const problem = served ? this.#leafProblem(served, batchId, header, index) : "the prover did not serve it";
    if (problem || !served) {
      o.log?.(`batch ${batchId} leaf ${index}: ${problem}; challenging it on-chain (the prover must answer with the client's voucher)`);
      await challengeLeaf(o.clients, { header, index }).catch((err: unknown) => o.log?.(`challenging leaf ${index} of batch ${batchId} failed: ${(err as Error).message.split("\n")[0]}`));
      return "challenged";
    }
    const { leaf, voucher, signature } = served;
    const sessions = o.sessions.get(leaf.modelId.toLowerCase() as Hex);
    // Sampled by voucher hash, as jobs are by job id: the prover cannot tell which are checked.
    const key = BigInt(leaf.voucherHash);
    if (!sessions || !shouldCheckJob(o.secret(), key, o.policy)) return "skipped";
    const model = await o.clients.publicClient.readContract({ address: o.clients.deployment.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [leaf.modelId] });
    const layers = sampleLayers(o.secret(), key, model.arch.layers, o.policy);
    const shape = { hidden: model.arch.hidden, chunkSize: model.encoding.chunkSize, dtype: model.encoding.traceDtype as 1 | 2, tokens: leaf.inputTokens + leaf.outputTokens, inputTokens: leaf.inputTokens };
    let trace;
    try {
      trace = await o.traceSource.fetch({ jobId: 0n, key: leaf.voucherHash, prover: header.prover, traceRoot: leaf.traceRoot, promptRoot: leaf.promptRoot, outputRoot: leaf.outputRoot, boundaries: boundariesFor(layers, model.arch.layers), shape });
    } catch (err) {
      if (!(err instanceof TraceUnavailableError)) throw err;
      // The trace is forced on-chain once the job is in the JobEscrow (availability, §8.1).
      const detail = `trace not served (${(err as Error).message.split("\n")[0]})`;
      const adopted = await adoptBatchedJob(o.clients, { header, debits: served.debits, leaf, index, proof: served.proof, voucher, signature }).catch(() => undefined);
      if (!adopted) return "skipped";
      o.log?.(`batch ${batchId} leaf ${index}: ${detail}; moved into the JobEscrow as job ${adopted.jobId} to force it`);
      o.onWithheld({ jobId: adopted.jobId, prover: header.prover, traceRoot: leaf.traceRoot, layers, detail });
      return "adopted";
    }
    const { failure } = await checkJobLayers({ sessions, trace, layers, head: { promptLength: leaf.inputTokens, samplingParams: leaf.samplingParams, logitTolerance: DEFAULT_LOGIT_TOLERANCE } });
    if (!failure) return "passed";
    const detail = failure.token
      ? `head step at position ${failure.position}: token ${failure.token.claimed} committed, the rule gives ${failure.token.derived}`
      : `layer ${failure.layer} position ${failure.position}: max-abs ${failure.maxAbs.toExponential(2)}, rel-L2 ${failure.relL2.toExponential(2)}`;
    const { jobId } = await adoptBatchedJob(o.clients, { header, debits: served.debits, leaf, index, proof: served.proof, voucher, signature });
    o.log?.(`batch ${batchId} leaf ${index}: ${detail}; moved into the JobEscrow as job ${jobId} to dispute it`);
    o.onFraud({ jobId, prover: header.prover, traceRoot: leaf.traceRoot, layers, failure, detail });
    return "adopted";
  }

  /** Why a served leaf cannot be trusted as the committed job, or undefined. */
  #leafProblem(s: BatchedLeaf, batchId: Hex, header: BatchHeader, index: number): string | undefined {
    if (s.index !== index || s.batchId.toLowerCase() !== batchId.toLowerCase()) return "the prover served another leaf";
    if (batchHeaderHash(s.header) !== batchHeaderHash(header)) return "the served header is not the committed one";
    if (!verifyJobLeaf(header.jobsRoot, header.leafCount, s.leaf, index, s.proof)) return "its proof does not hold under the committed root";
    const digest = voucherDigest(s.voucher, this.o.clients.chain.id, this.o.clients.deployment.contracts.voucherEscrow!);
    const violations = leafViolations(header, s.leaf, s.voucher, digest);
    if (violations.length > 0) return `its voucher does not allow it (${violations.join(", ")})`;
    return undefined;
  }

  /** The prover's registered endpoint, read once per batch (undefined when unreadable: its leaves count as not served). */
  async #endpoint(prover: Address): Promise<string | undefined> {
    const o = this.o;
    const node = await o.clients.publicClient.readContract({ address: o.clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [prover] }).catch(() => undefined);
    return node?.endpoint.replace(/\/+$/, "");
  }

  async #fetchLeaf(endpoint: string, batchId: Hex, index: number): Promise<BatchedLeaf | undefined> {
    try {
      const res = await fetch(`${endpoint}/v1/batches/${batchId}/leaves/${index}`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return undefined;
      const leaf = decodeLeafResponse(await res.json());
      // The signature must recover the client exactly as the court recovers it (ECDSA, low s).
      const signer = await voucherSigner(leaf.leaf.voucherHash, leaf.signature);
      return signer?.toLowerCase() === leaf.leaf.client.toLowerCase() ? leaf : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * How a verifier node takes the follower's findings into its job state: a failing batched job
 * becomes a failed job for the step dispute driver, a withheld trace a withheld job for the
 * availability driver (PROTOCOL §5.8, §8.1).
 */
export function recordInto(state: VerifierState): Pick<BatchFollowerOptions, "onFraud" | "onWithheld"> {
  return {
    onFraud: (f) => {
      state.recordCommitted(f.jobId, f.traceRoot);
      state.update(f.jobId, { prover: f.prover, state: "failed", layers: f.layers, failure: f.failure, detail: `voucher job: ${f.detail}` });
    },
    onWithheld: (w) => {
      state.recordCommitted(w.jobId, w.traceRoot);
      state.update(w.jobId, { prover: w.prover, state: "withheld", layers: w.layers, detail: `voucher job: ${w.detail}` });
    },
  };
}
