import { formatEther, parseEventLogs } from "viem";
import type { PlayReturnType } from "../protocol/game/play.js";
import { jobEscrowAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { FINALIZE_BATCH } from "../protocol/chain/actions/finalizeJobs.js";
import { getJob } from "../protocol/chain/actions/getJob.js";
import { decodePromptTokens } from "../protocol/chain/actions/publishPrompt.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import type { HiddenData } from "../runtime/forward.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import type { TraceStore } from "../runtime/trace/store.js";
import type { ProverMetrics } from "./metrics.js";
import { ApiError } from "./errors.js";
import type { AdmittedJob, JobService } from "./serve/job-service.js";
import type { ProverDb } from "./state/db.js";
import type { PersistedTxSender } from "./state/tx-sender.js";

/**
 * The prover's side of disputes on its committed jobs (PROTOCOL §7.4), e.g. protocol/game's
 * respondToDisputes: stateless, called every tick with the jobs that can be disputed.
 */
export type DisputeResponder = (p: {
  clients: StepproofClients;
  jobIds: readonly bigint[];
  modelDir: string;
  traceFor: (jobId: bigint) => { tokens: readonly number[]; row(t: number, layer: number): HiddenData } | undefined;
}) => Promise<readonly PlayReturnType[] | void>;

export type LoopOptions = {
  clients: StepproofClients;
  db: ProverDb;
  store: TraceStore;
  sender: PersistedTxSender;
  jobs: JobService;
  metrics: ProverMetrics;
  withdrawThreshold: bigint;
  modelDir: string;
  disputeResponder?: DisputeResponder;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
};

/** How far back the loop looks for PromptPublished events (blocks). */
const PROMPT_LOOKBACK_BLOCKS = 50_000n;

/**
 * Admission refusals that mean this node cannot finish a published prompt in time: such a job
 * is declined on-chain within the decline window (no penalty) instead of left to expire.
 */
const CANNOT_SERVE_IN_TIME = new Set(["deadline_too_close", "server_busy", "trace_store_full"]);

export type TickReport = { resumed: number; committed: number; finalized: number; settled: number; withdrawn: bigint };

/**
 * One pass of the node's duties, decided from chain state and the database alone (a restarted
 * node runs the same pass and picks up where the dead one stopped):
 *   1. settle transactions persisted but not known mined (rebroadcast the same signed bytes);
 *   2. serve jobs whose client published the prompt on-chain (it never reached us over HTTP,
 *      and a missed deadline on such a job is penalized): admit every new one first, declining
 *      on-chain (within the decline window) those this node cannot finish in time, then
 *      generate the admitted ones; then commit every generated-but-uncommitted job whose
 *      deadline has not passed;
 *   3. play the prover's side of disputes on committed jobs (when a responder is plugged in);
 *   4. finalize committed jobs past their challenge window with no open dispute, in batches;
 *      mark jobs the chain has settled (Finalized, Slashed) and release their traces;
 *   5. withdraw credits from the escrow and the registry.
 * Each step fails alone (logged, counted, retried next tick).
 */
export async function runTick(o: LoopOptions): Promise<TickReport> {
  const report: TickReport = { resumed: 0, committed: 0, finalized: 0, settled: 0, withdrawn: 0n };
  const step = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      o.metrics.loopErrors.inc({ step: name });
      o.log.warn({ step: name, err: String(err) }, "loop step failed; retrying next tick");
    }
  };
  const wallet = o.clients.walletClient!;
  const me = wallet.account.address;

  await step("resume", async () => {
    for (const tx of await o.sender.resume()) {
      report.resumed++;
      if (tx.kind === "commit" && o.db.job(BigInt(tx.key))?.state === "generated") o.db.setState(BigInt(tx.key), "committed", { commitTx: tx.hash });
    }
  });

  await step("published prompts", async () => {
    // Only recent publications matter: a publication gives one commit timeout (<= 30 days of
    // blocks on any chain is far more than this window's worth of jobs still open).
    const head = await o.clients.publicClient.getBlockNumber({ cacheTime: 0 });
    const start = BigInt(o.clients.deployment.startBlock);
    const fromBlock = head > start + PROMPT_LOOKBACK_BLOCKS ? head - PROMPT_LOOKBACK_BLOCKS : start;
    const logs = await o.clients.publicClient.getContractEvents({ address: o.clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, eventName: "PromptPublished", args: { prover: me }, fromBlock, toBlock: "latest" });
    // Admit (or decline) all of them before generating any: the decline window is short, and
    // generating one job first could use it up for the next.
    const admitted: AdmittedJob[] = [];
    for (const log of logs) {
      const jobId = log.args.jobId!;
      if (o.db.job(jobId)) continue; // served (or being served) already
      try {
        admitted.push(await o.jobs.admit(jobId, decodePromptTokens(log.args.prompt!), undefined));
      } catch (err) {
        if (err instanceof ApiError && CANNOT_SERVE_IN_TIME.has(err.code)) await o.jobs.decline(jobId, err.code);
        o.log.warn({ jobId: jobId.toString(), err: String(err) }, "cannot serve the published prompt");
      }
    }
    for (const a of admitted) {
      try {
        await o.jobs.run(a);
        o.log.info({ jobId: a.jobId.toString() }, "served a job from its on-chain prompt");
      } catch (err) {
        // Generation failed: still within the decline window, a decline beats a penalty.
        await o.jobs.decline(a.jobId, "generation failed");
        o.log.warn({ jobId: a.jobId.toString(), err: String(err) }, "cannot serve the published prompt");
      }
    }
  });

  await step("commit", async () => {
    for (const row of o.db.jobsIn("generated")) {
      const before = o.db.job(row.jobId)?.state;
      await o.jobs.commit(row.jobId);
      if (before === "generated" && o.db.job(row.jobId)?.state === "committed") report.committed++;
    }
  });

  if (o.disputeResponder) {
    const responder = o.disputeResponder;
    await step("disputes", async () => {
      const jobIds = o.db.jobsIn("committed").map((r) => r.jobId);
      if (jobIds.length === 0) return;
      const moves = await o.sender.exclusive(() =>
        responder({
          clients: o.clients,
          jobIds,
          modelDir: o.modelDir,
          traceFor: (jobId) => {
            try {
              return o.store.read(jobId.toString());
            } catch {
              return undefined; // no complete trace on disk: the dispute clock decides
            }
          },
        }),
      );
      // A dispute is the one thing that can cost the stake: every move the node makes is worth a line.
      for (const m of moves ?? []) {
        if (m.move && m.move.kind !== "wait") o.log.info({ dispute: m.disputeId, move: m.move.kind, tx: m.tx }, `dispute ${m.disputeId}: played ${m.move.kind}`);
      }
    });
  }

  await step("finalize", async () => {
    const now = (await o.clients.publicClient.getBlock({ blockTag: "latest" })).timestamp;
    const ready: bigint[] = [];
    for (const row of o.db.jobsIn("committed")) {
      const job = await getJob(o.clients, { jobId: row.jobId });
      if (job.status === JobStatus.Committed && job.openDisputes === 0 && now > job.challengeDeadline) ready.push(row.jobId);
      else if (job.status !== JobStatus.Committed) settle(o, row.jobId, job.status, report);
    }
    for (let i = 0; i < ready.length; i += FINALIZE_BATCH) {
      const batch = ready.slice(i, i + FINALIZE_BATCH);
      const { hash, receipt } = await o.sender.send({ kind: "finalize", key: batch.join(","), address: o.clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "finalizeMany", args: [batch], what: `finalize ${batch.length} jobs` });
      for (const e of parseEventLogs({ abi: jobEscrowAbi, logs: receipt.logs, eventName: "JobFinalized" })) {
        const a = e.args;
        o.log.info(
          { jobId: a.jobId.toString(), proverPaid: formatEther(a.proverPaid), fee: formatEther(a.fee), auditFee: formatEther(a.auditFee), clientRefund: formatEther(a.clientRefund), tx: hash },
          `finalized job ${a.jobId}: ${formatEther(a.proverPaid)} credited to this prover (protocol fee ${formatEther(a.fee)}, audit fee ${formatEther(a.auditFee)}, ${formatEther(a.clientRefund)} refunded to the client)`,
        );
      }
      for (const jobId of batch) {
        const job = await getJob(o.clients, { jobId });
        if (job.status === JobStatus.Finalized) report.finalized++;
        if (job.status !== JobStatus.Committed) settle(o, jobId, job.status, report);
      }
    }
    o.metrics.finalized.inc(report.finalized);
  });

  await step("withdraw", async () => {
    const { jobEscrow, nodeRegistry } = o.clients.deployment.contracts;
    const fromEscrow = await o.clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [me] });
    if (fromEscrow > 0n && fromEscrow >= o.withdrawThreshold) {
      const { hash } = await o.sender.send({ kind: "withdraw-escrow", key: String(Date.now()), address: jobEscrow, abi: jobEscrowAbi, functionName: "withdraw", args: [], what: "withdraw escrow credits" });
      report.withdrawn += fromEscrow;
      o.log.info({ amount: formatEther(fromEscrow), from: "escrow", tx: hash }, `withdrew ${formatEther(fromEscrow)} of escrow credits to the wallet`);
    }
    const fromRegistry = await o.clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [me] });
    if (fromRegistry > 0n && fromRegistry >= o.withdrawThreshold) {
      const { hash } = await o.sender.send({ kind: "withdraw-registry", key: String(Date.now()), address: nodeRegistry, abi: nodeRegistryAbi, functionName: "withdrawCredits", args: [], what: "withdraw registry credits" });
      report.withdrawn += fromRegistry;
      o.log.info({ amount: formatEther(fromRegistry), from: "registry", tx: hash }, `withdrew ${formatEther(fromRegistry)} of registry credits to the wallet`);
    }
  });

  await step("prune", async () => {
    // The loop's cursor: the chain head this pass reconciled against (liveness for status/healthz).
    o.db.setCursor("lastTickBlock", (await o.clients.publicClient.getBlockNumber()).toString());
    o.store.prune();
    for (const [state, n] of Object.entries(o.db.countByState())) o.metrics.jobsByState.set({ state }, n);
  });
  return report;
}

function settle(o: LoopOptions, jobId: bigint, status: number, report: TickReport): void {
  o.db.setState(jobId, "settled");
  report.settled++;
  try {
    o.store.markSettled(jobId.toString());
  } catch {
    // trace already pruned
  }
  if (status === JobStatus.Slashed) o.log.warn({ jobId: jobId.toString() }, `job ${jobId} was slashed: its collateral and a share of the free stake are lost, and the prover is jailed (\`status\` shows how much and until when)`);
  else if (status === JobStatus.Finalized) o.log.info({ jobId: jobId.toString() }, `job ${jobId} settled (finalized by someone else)`);
}

/** Runs runTick every `intervalMs`, one at a time; `kick()` runs one now (after a commit, in tests). */
export class BackgroundLoop {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<TickReport> | undefined;
  #stopped = false;

  constructor(
    readonly options: LoopOptions,
    readonly intervalMs: number,
  ) {}

  start(): void {
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.kick().finally(() => this.#schedule(this.intervalMs)), ms);
  }

  /** Run a tick now, or wait for the one in progress and run another after it. */
  async kick(): Promise<TickReport> {
    while (this.#running) await this.#running.catch(() => {});
    this.#running = runTick(this.options);
    try {
      return await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }
}
