import type { Hex, Log } from "viem";
import { jobEscrowAbi, modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import { followLogs } from "../protocol/node/log-follower.js";
import type { ModelSessions } from "../runtime/session.js";
import { boundariesFor, checkJobLayers, DEFAULT_LOGIT_TOLERANCE } from "./check-job.js";
import type { DisputeDriver } from "./dispute-driver.js";
import type { AvailabilityDriver } from "./availability-driver.js";
import type { AuditDriver } from "./audit-driver.js";
import { AuditState, auditStateName, type AuditAssignment } from "../protocol/chain/actions/audits.js";
import { TransactionError } from "../protocol/chain/actions/send.js";
import { detectionProbability, sampleLayers, shouldCheckJob, type SamplingPolicy } from "./sampling.js";
import { SETTLED_UNCHECKED, type VerifierState } from "./state.js";
import { getJobs } from "../protocol/chain/actions/getJobs.js";
import type { OnChainJob } from "../protocol/chain/actions/getJob.js";
import { TraceUnavailableError, type TraceSource } from "./trace-source.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

export type VerifierNodeDependencies = {
  clients: StepproofClients;
  state: VerifierState;
  traceSource: TraceSource;
  /** The verifier's own execution setup per registered model id (lower-case hex). */
  sessions: ReadonlyMap<Hex, ModelSessions>;
  disputes?: DisputeDriver;
  /** Forces withheld traces on-chain (TraceAvailability, PROTOCOL §8.1); without it a withheld job is only recorded. */
  availability?: AvailabilityDriver;
  /** Answers the audits the protocol assigns to this verifier (PROTOCOL §9); without it only the voluntary policy runs. */
  audits?: AuditDriver;
  /** Follows voucher batches (PROTOCOL §5.8): leaves challenged or checked, failing jobs moved into the JobEscrow. */
  batches?: { tick(): Promise<unknown> };
  policy: SamplingPolicy;
  /** Blocks a log must be buried under before it is acted on. */
  confirmations: number;
  /** Blocks per eth_getLogs call. */
  maxLogRange: number;
  /** Checks of one job that may fail (prover offline) before it counts as withheld. */
  maxAttempts?: number;
  /** Score gap a re-derived output token may show before the head step is suspect (default DEFAULT_LOGIT_TOLERANCE). */
  logitTolerance?: number;
  log?: (line: string) => void;
};

export type TickReport = {
  logsRead: number;
  checked: number;
  failed: number;
  disputesOpened: number;
  moves: number;
  auditsReported: number;
  /** Committed jobs not checked yet when the tick started (new, or retried after an error). */
  backlog: number;
  /** Mean wall time of one check this tick (ms; 0 when none ran). */
  checkMs: number;
  /** Sampled jobs that settled before this verifier checked them, since it started keeping state. */
  settledUnchecked: number;
};

/** What the verifier can sustain at its sampling, from its measured check time (issue #15). */
export type Throughput = { checkMs: number | undefined; jobsPerMinute: number | undefined; backlog: number; settledUnchecked: number };

/** Committed jobs per minute a verifier keeps up with: one check (of `checkMs`) per sampled job. */
export function sustainableJobsPerMinute(checkMs: number, jobFraction: number): number {
  return Math.round((60_000 / checkMs / jobFraction) * 10) / 10;
}

/** Weight of the newest check in the running mean of check times. */
const CHECK_MS_WEIGHT = 0.1;

/**
 * One verifier: follows commitments, samples, re-executes, disputes. `tick` decides every
 * action from chain state and the SQLite state alone, so a restarted node simply ticks again.
 */
export class VerifierNode {
  constructor(readonly deps: VerifierNodeDependencies) {}

  async tick(): Promise<TickReport> {
    const report: TickReport = { logsRead: 0, checked: 0, failed: 0, disputesOpened: 0, moves: 0, auditsReported: 0, backlog: 0, checkMs: 0, settledUnchecked: 0 };
    const { clients, state } = this.deps;
    for (;;) {
      const r = await followLogs({
        db: state.db,
        name: "ResultCommitted",
        client: clients.publicClient,
        address: clients.deployment.contracts.jobEscrow,
        abi: jobEscrowAbi,
        eventName: "ResultCommitted",
        startBlock: BigInt(clients.deployment.startBlock),
        confirmations: this.deps.confirmations,
        maxRange: this.deps.maxLogRange,
        onLogs: (logs: Log[]) => {
          for (const log of logs as (Log & { args: { jobId: bigint; traceRoot: Hex } })[]) {
            // The prover is read from the job at check time; the log only tells us to look.
            state.recordCommitted(log.args.jobId, log.args.traceRoot);
          }
        },
      });
      if (!r) break;
      report.logsRead += r.logs;
    }

    if (this.deps.batches) {
      try {
        await this.deps.batches.tick();
      } catch (err) {
        this.deps.log?.(`following voucher batches failed (retried next tick): ${(err as Error).message.split("\n")[0]}`);
      }
    }

    // The backlog, most urgent first: read in one batched call, checked in order of challenge
    // deadline (a job past its deadline can no longer be disputed: it goes last), so a verifier
    // that falls behind loses the jobs with the most time left, not the oldest ones.
    const backlog = state.byState("new", "error");
    report.backlog = backlog.length;
    const onchain = backlog.length > 0 ? await getJobs(clients, { jobIds: backlog.map((j) => j.jobId) }) : new Map<bigint, OnChainJob>();
    const now = backlog.length > 0 ? await getChainTime(clients) : 0n;
    const deadline = (id: bigint) => onchain.get(id)?.challengeDeadline ?? 0n;
    const rank = (id: bigint) => (deadline(id) < now ? 1 : 0);
    backlog.sort((a, b) => rank(a.jobId) - rank(b.jobId) || (deadline(a.jobId) < deadline(b.jobId) ? -1 : deadline(a.jobId) > deadline(b.jobId) ? 1 : 0));
    if (backlog.length > 0) this.#reportBacklog(backlog.length, onchain.size > 0 ? deadline(backlog[0]!.jobId) - now : undefined);
    let checkMs = 0;
    for (const job of backlog) {
      const started = performance.now();
      const outcome = await this.#check(job.jobId, onchain.get(job.jobId));
      if (outcome === "waiting") continue;
      if (outcome !== "skipped") {
        const ms = performance.now() - started;
        checkMs += ms;
        const mean = state.stat("checkMs");
        state.setStat("checkMs", mean === undefined ? ms : mean + CHECK_MS_WEIGHT * (ms - mean));
      }
      report.checked++;
      if (outcome === "failed") report.failed++;
      if (outcome === "reported") report.auditsReported++;
    }
    const ran = report.checked;
    report.checkMs = ran > 0 ? Math.round(checkMs / ran) : 0;
    report.settledUnchecked = state.settledUnchecked();
    if (this.deps.availability) {
      for (const job of state.byState("withheld")) {
        // An auditor names its probe leaf too: once published on-chain, the prover has served it.
        const audit = this.deps.audits?.isMine(job.jobId) ? await this.deps.audits.assignment(job.jobId) : undefined;
        const include = audit ? [{ tensor: audit.probe.boundary, row: audit.probe.row, chunk: audit.probe.chunk }] : [];
        const challenge = await this.deps.availability.force({ jobId: job.jobId, secret: state.secret(), boundaries: boundariesFor(job.layers), include });
        if (challenge) state.update(job.jobId, { state: "forced", detail: "trace withheld: availability challenge open" });
      }
      const r = await this.deps.availability.advance();
      for (const jobId of r.answered) state.update(jobId, { state: "answered", detail: "the prover published the demanded leaves on-chain only" });
      for (const jobId of r.failed) state.update(jobId, { state: "unavailable", detail: "availability challenge unanswered: job slashed" });
      for (const jobId of r.cancelled) state.update(jobId, { state: "skipped", detail: "job slashed by another dispute" });
    }
    if (this.deps.disputes) {
      for (const job of state.byState("failed")) {
        const f = job.failure!;
        const step = { jobId: job.jobId, prover: job.prover!, traceRoot: job.traceRoot, position: f.position, layer: f.layer };
        const assessment = await this.deps.disputes.assess(step);
        if (!assessment.provable) {
          // Within every tolerance: as the job's auditor, that is agreement (PROTOCOL §9.1).
          if (this.deps.audits?.isMine(job.jobId)) {
            await this.deps.audits.report(step, await this.deps.audits.assignment(job.jobId), `beyond the layer threshold but ${assessment.detail}`);
            report.auditsReported++;
          }
          state.update(job.jobId, { state: "unprovable", detail: assessment.detail });
          continue;
        }
        try {
          await this.deps.disputes.open(step);
        } catch (err) {
          // Another verifier audits this job and has priority until its deadline (PROTOCOL
          // §9.1): keep the candidate and try again on a later tick.
          if (err instanceof TransactionError && err.revertName === "AuditorPriority") {
            state.update(job.jobId, { detail: `${assessment.detail}; waiting for the auditor's priority to end (${err.revertArgs?.[2]})` });
            continue;
          }
          throw err;
        }
        state.update(job.jobId, { state: "disputed", detail: assessment.detail });
        report.disputesOpened++;
        this.deps.log?.(`job ${job.jobId}: dispute opened at position ${f.position}, layer ${f.layer} (${assessment.detail})`);
      }
      report.moves = await this.deps.disputes.advance();
    }
    await this.deps.audits?.recordOverdueMisses();
    await this.deps.audits?.claimVested();
    return report;
  }

  /**
   * What this verifier sustains: its mean check time (kept across restarts) and the jobs per
   * minute that makes at its sampling, the backlog and the jobs that settled unchecked.
   */
  throughput(): Throughput {
    const checkMs = this.deps.state.stat("checkMs");
    return {
      checkMs: checkMs === undefined ? undefined : Math.round(checkMs),
      jobsPerMinute: checkMs === undefined ? undefined : sustainableJobsPerMinute(checkMs, this.deps.policy.jobFraction),
      backlog: this.deps.state.byState("new", "error").length,
      settledUnchecked: this.deps.state.settledUnchecked(),
    };
  }

  /** Say when the backlog cannot be cleared before its most urgent deadline (and how far behind). */
  #reportBacklog(backlog: number, secondsToFirstDeadline: bigint | undefined): void {
    const checkMs = this.deps.state.stat("checkMs");
    const drainSeconds = checkMs === undefined ? undefined : (backlog * checkMs * this.deps.policy.jobFraction) / 1000;
    const behind = drainSeconds !== undefined && secondsToFirstDeadline !== undefined && drainSeconds > Number(secondsToFirstDeadline);
    if (backlog < 10 && !behind) return;
    const t = this.throughput();
    this.deps.log?.(
      `${behind ? "FALLING BEHIND: " : ""}backlog ${backlog} jobs, first challenge deadline in ${secondsToFirstDeadline ?? "?"} s, ` +
        `≈ ${drainSeconds === undefined ? "?" : Math.round(drainSeconds)} s to check them (a check takes ${t.checkMs ?? "?"} ms: ≈ ${t.jobsPerMinute ?? "?"} committed jobs/min sustainable); ` +
        `${t.settledUnchecked} sampled jobs settled unchecked so far`,
    );
  }

  async #check(jobId: bigint, known?: OnChainJob): Promise<"waiting" | "skipped" | "passed" | "reported" | "failed" | "withheld" | "error"> {
    const { clients, state, policy } = this.deps;
    const onchain = known ?? (await clients.publicClient.readContract({ address: clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] }));
    const seen = state.get(jobId)!;
    // A reorged-away or already settled commitment is not ours to check any more.
    if (onchain.status !== JobStatus.Committed || onchain.traceRoot.toLowerCase() !== seen.traceRoot.toLowerCase()) {
      // Finalized before this verifier got to a job it samples: it did not keep up (issue #15).
      const missed = onchain.status === JobStatus.Finalized && onchain.traceRoot.toLowerCase() === seen.traceRoot.toLowerCase() && shouldCheckJob(state.secret(), jobId, policy);
      state.update(jobId, { state: "skipped", detail: missed ? `${SETTLED_UNCHECKED}: finalized before it was checked` : `on-chain status ${onchain.status}` });
      return "skipped";
    }
    const sessions = this.deps.sessions.get(onchain.modelId.toLowerCase() as Hex);
    // Audits the protocol assigned to this verifier come first: their boundaries, not the
    // policy's, and they are checked whatever the voluntary sampling says (PROTOCOL §9.1).
    let audit: AuditAssignment | undefined;
    let auditWhy = "this verifier answers no audits";
    if (this.deps.audits && sessions) {
      const found = await this.deps.audits.lookup(jobId);
      if (found.kind === "wait") return "waiting";
      if (found.kind === "mine") audit = found.assignment;
      auditWhy = describeDraw(found.assignment);
    }
    const secret = state.secret();
    const sampled = shouldCheckJob(secret, jobId, policy);
    // Say what was decided and why, for every job: an operator's first jobs are usually skipped
    // (a 25 % policy, a 10 % audit rate), which is not the same as the node doing nothing.
    const policyWhy = `${sampled ? "among" : "not among"} the ${percent(policy.jobFraction)} of jobs this verifier's policy checks`;
    if (!audit && !sampled) {
      state.update(jobId, { state: "skipped", detail: `not sampled (${policyWhy}); ${auditWhy}` });
      this.deps.log?.(`job ${jobId}: not checked: ${policyWhy}, and ${auditWhy}`);
      return "skipped";
    }
    if (!sessions) {
      state.update(jobId, { state: "skipped", detail: `model ${onchain.modelId} not served by this verifier` });
      return "skipped";
    }
    state.update(jobId, { prover: onchain.prover });
    const job = { jobId, prover: onchain.prover, traceRoot: onchain.traceRoot };
    if (audit && this.deps.audits!.mode === "lazy") {
      await this.deps.audits!.report(job, audit, "lazy: nothing re-executed");
      state.update(jobId, { state: "passed", detail: "audit reported without re-execution (lazy mode)" });
      return "reported";
    }
    const model = await clients.publicClient.readContract({ address: clients.deployment.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [onchain.modelId] });
    // An audit's boundaries, plus whatever the voluntary policy samples on top.
    const own = sampled ? sampleLayers(secret, jobId, model.arch.layers, policy) : [];
    const layers = [...new Set([...(audit?.boundaries ?? []), ...own])].sort((a, b) => a - b);
    this.deps.log?.(`job ${jobId}: re-executing boundaries ${layers.join(", ")} and the head step (of 0..${model.arch.layers}): ${audit ? `the protocol assigned its audit to this verifier${sampled ? ", and it is " + policyWhy : ""}` : policyWhy}`);
    try {
      const shape = { hidden: model.arch.hidden, chunkSize: model.encoding.chunkSize, dtype: model.encoding.traceDtype as 1 | 2, tokens: onchain.inputTokens + onchain.outputTokens, inputTokens: onchain.inputTokens };
      const trace = await this.deps.traceSource.fetch({ jobId, prover: onchain.prover, traceRoot: onchain.traceRoot, promptRoot: onchain.promptRoot, outputRoot: onchain.outputRoot, boundaries: boundariesFor(layers, model.arch.layers), shape });
      const head = { promptLength: onchain.inputTokens, samplingParams: onchain.samplingParams, logitTolerance: this.deps.logitTolerance ?? DEFAULT_LOGIT_TOLERANCE };
      const { failure } = await checkJobLayers({ sessions, trace, layers, head });
      if (failure) {
        const detail = failure.token
          ? `head step at position ${failure.position}: token ${failure.token.claimed} committed, the rule gives ${failure.token.derived} (score gap ${failure.maxAbs.toExponential(2)})`
          : `layer ${failure.layer} position ${failure.position}: max-abs ${failure.maxAbs.toExponential(2)}, rel-L2 ${failure.relL2.toExponential(2)}`;
        state.update(jobId, { state: "failed", layers, failure, detail });
        this.deps.log?.(`job ${jobId}: ${detail}`);
        return "failed";
      }
      if (audit) {
        await this.deps.audits!.report(job, audit, `boundaries ${layers.join(", ")} and the head step within thresholds`);
        state.update(jobId, { state: "passed", layers, detail: "audit reported" });
        this.deps.log?.(`job ${jobId}: boundaries ${layers.join(", ")} and the head step within the registered thresholds; audit reported with its probe leaf (pay vests a day later)`);
        return "reported";
      }
      state.update(jobId, { state: "passed", layers });
      this.deps.log?.(`job ${jobId}: boundaries ${layers.join(", ")} and the head step within the registered thresholds`);
      return "passed";
    } catch (err) {
      const unavailable = err instanceof TraceUnavailableError;
      const attempts = seen.attempts + 1;
      const withheld = unavailable && attempts >= (this.deps.maxAttempts ?? 3);
      state.update(jobId, { state: withheld ? "withheld" : "error", layers, detail: (err as Error).message.split("\n")[0], attempt: true });
      return withheld ? "withheld" : "error";
    }
  }

  /** Counts by state, audits by state, and the detection probability the voluntary policy adds (issue #5). */
  status(layers: number): { jobs: Record<string, number>; audits: Record<string, number>; detection: ReturnType<typeof detectionProbability>; throughput: Throughput } {
    const jobs: Record<string, number> = {};
    for (const j of this.deps.state.all()) jobs[j.state] = (jobs[j.state] ?? 0) + 1;
    const audits: Record<string, number> = {};
    for (const a of this.deps.audits?.all() ?? []) audits[a.state] = (audits[a.state] ?? 0) + 1;
    return { jobs, audits, detection: detectionProbability(this.deps.policy, layers), throughput: this.throughput() };
  }
}

const percent = (f: number) => `${+(f * 100).toFixed(2)} %`;

/** Why the protocol's draw does or does not make this job this verifier's audit (PROTOCOL §9.1). */
function describeDraw(a: AuditAssignment): string {
  switch (a.state) {
    case AuditState.Unaudited:
      return "the protocol's draw left it unaudited";
    case AuditState.NoAuditor:
      return "the protocol drew it for audit but no other verifier was in the pool";
    case AuditState.Lapsed:
      return "its audit draw lapsed (nobody fixed it within 256 blocks)";
    case AuditState.Assigned:
      return `the protocol assigned its audit to ${a.auditor}`;
    default:
      return `its audit is ${auditStateName(a.state)} (auditor ${a.auditor})`;
  }
}
