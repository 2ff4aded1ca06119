import { formatEther, parseEventLogs } from "viem";
import type { PlayReturnType } from "../protocol/game/play.js";
import { jobEscrowAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import { endDispute, followDisputes, liveDisputes, type FollowedDispute } from "../protocol/game/my-disputes.js";
import type { HiddenData } from "../runtime/forward.js";
import type { TraceStore } from "../runtime/trace/store.js";
import type { ProverMetrics } from "./metrics.js";
import { ApiError } from "./errors.js";
import { refusedForRoom, waitForRoom } from "./serve/decline-policy.js";
import type { AdmittedJob, JobService } from "./serve/job-service.js";
import type { ProverDb } from "./state/db.js";
import { PublishedPrompts } from "./state/published-prompts.js";
import type { PersistedTxSender } from "./state/tx-sender.js";
import { settleAll } from "./settle-all.js";
import { settleDue } from "./settle-due.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";
import { moveCall, type MoveSender } from "../protocol/game/send-move.js";

/**
 * The prover's side of disputes on its committed jobs (PROTOCOL §7.4), e.g. node-common's
 * respondToDisputes: stateless, called every tick with the live disputes on its jobs.
 */
export type DisputeResponder = (p: {
  clients: StepproofClients;
  disputes: readonly FollowedDispute[];
  modelDir: string;
  traceFor: (jobId: bigint) => { tokens: readonly number[]; row(t: number, layer: number): HiddenData } | undefined;
  onOver?: (dispute: Pick<FollowedDispute, "id" | "jobId">) => void;
  /** Sends a move through the node's persisted sender (crash-safe, rebroadcast or replaced when stuck). */
  send?: MoveSender;
  /** A dispute whose turn failed; the others are still played. */
  onError?: (dispute: Pick<FollowedDispute, "id" | "jobId">, err: unknown) => void;
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
  /** Refreshed once a pass, so /metrics shows free stake and exposure as they move (PROTOCOL §9.4). */
  capacity?: { refresh(): Promise<unknown> };
  /** The node's JSON-RPC request counter: the pass reports what it cost. */
  rpc?: { requests: number };
  /** Blocks per eth_getLogs request of the log cursors (default 1,000). */
  maxLogRange?: number;
  /** Blocks a log must be buried under before the loop acts on it (default 0: a published prompt is served at once; the cursor still rewinds on a reorg). */
  confirmations?: number;
  /** Voucher batches (PROTOCOL §5.8): commit, answer challenges, claim — once a pass. */
  batches?: { tick(): Promise<void> };
  /** Vouchers published on-chain for this node (PROTOCOL §5.8 "Publication"): served, declined, answered. */
  publications?: { tick(logs: { confirmations: number; maxRange: number }): Promise<void>; answer(): Promise<void> };
  /** How long before a published job's decline window ends a busy node stops waiting and declines (serve/decline-policy.ts; default for a 15 s loop). */
  declineMarginSeconds?: bigint;
  /** The trace store key of a job: a voucher job moved into the JobEscrow keeps its own. */
  traceIdOf?: (jobId: bigint) => string;
};

/**
 * Admission refusals that mean this node cannot finish a published prompt in time: such a job
 * is declined on-chain within the decline window (no penalty) instead of left to expire; a busy
 * node first waits a pass or more while the window lasts (serve/decline-policy.ts).
 */
const CANNOT_SERVE_IN_TIME = new Set(["deadline_too_close", "server_busy", "trace_store_full"]);

export type TickReport = { resumed: number; committed: number; finalized: number; settled: number; withdrawn: bigint; ms: number; rpcRequests: number; stepsMs: Record<string, number> };

/**
 * One pass of the node's duties, decided from chain state and the database alone (a restarted
 * node runs the same pass and picks up where the dead one stopped). Nothing in it reads the
 * node's whole history (issue #15): logs are followed with persisted cursors in bounded ranges,
 * and job state is read in batches for the jobs that are due only.
 *   1. settle transactions persisted but not known mined (rebroadcast the same signed bytes);
 *   2. serve jobs whose client published the prompt on-chain (it never reached us over HTTP,
 *      and a missed deadline on such a job is penalized): admit every new one first, declining
 *      on-chain (within the decline window) those this node cannot finish in time, then
 *      generate the admitted ones; then commit every generated-but-uncommitted job whose
 *      deadline has not passed;
 *   3. play the prover's side of live disputes on its jobs (when a responder is plugged in);
 *   4. finalize committed jobs past their challenge window with no open dispute, in batches;
 *      mark jobs the chain has settled (Finalized, Slashed) and release their traces;
 *   5. withdraw credits from the escrow and the registry;
 *   6. prune traces, refresh the gauges (jobs, stake, exposure).
 * Each step fails alone (logged, counted, retried next tick).
 */
export async function runTick(o: LoopOptions): Promise<TickReport> {
  const started = performance.now();
  const rpcBefore = o.rpc?.requests ?? 0;
  const report: TickReport = { resumed: 0, committed: 0, finalized: 0, settled: 0, withdrawn: 0n, ms: 0, rpcRequests: 0, stepsMs: {} };
  const step = async (name: string, fn: () => Promise<void>) => {
    const t0 = performance.now();
    try {
      await fn();
    } catch (err) {
      o.metrics.loopErrors.inc({ step: name });
      o.log.warn({ step: name, err: String(err) }, "loop step failed; retrying next tick");
    }
    // Which step a slow pass spent its time in (issue #15: a pass must not grow with history).
    const ms = performance.now() - t0;
    report.stepsMs[name] = Math.round(ms);
    o.metrics.loopStepSeconds.set({ step: name }, ms / 1000);
  };
  const wallet = o.clients.walletClient!;
  const me = wallet.account.address;
  const logs = { confirmations: o.confirmations ?? 0, maxRange: o.maxLogRange ?? 1000 };

  await step("resume", async () => {
    for (const tx of await o.sender.resume()) {
      report.resumed++;
      if (tx.kind === "commit" && o.db.job(BigInt(tx.key))?.state === "generated") o.db.setState(BigInt(tx.key), "committed", { commitTx: tx.hash });
    }
  });

  await step("published prompts", async () => {
    const published = new PublishedPrompts(o.db.db);
    await published.follow(o.clients, me, logs);
    // Admit (or decline) all of them before generating any: the decline window is short, and
    // generating one job first could use it up for the next.
    const admitted: AdmittedJob[] = [];
    // An admission this pass does not run (it ended early on a throw) is undone: its claim and
    // its trace-store room would otherwise stay taken until a restart.
    try {
      // Read afresh for each decision: a pass can run long between two of them.
      const chainTime = () => getChainTime(o.clients);
      for (const { jobId, promptTokens, declineDeadline } of published.pending()) {
        if (o.db.job(jobId)) {
          published.handled(jobId); // served (or being served) already
          continue;
        }
        try {
          admitted.push(await o.jobs.admit(jobId, promptTokens, undefined));
        } catch (err) {
          if (await waitForRoom(err, declineDeadline, chainTime, o.declineMarginSeconds)) {
            o.log.info({ jobId: jobId.toString(), declineDeadline: declineDeadline?.toString() }, "busy: the published prompt waits for room while its decline window lasts");
            continue;
          }
          const declined = err instanceof ApiError && CANNOT_SERVE_IN_TIME.has(err.code) ? await o.jobs.decline(jobId, err.code) : undefined;
          o.log.warn({ jobId: jobId.toString(), err: String(err) }, "cannot serve the published prompt");
          // Refused for room, and the decline window closed before a decline went out: declining
          // is no longer possible but serving still is, until the commit deadline. Left pending,
          // it is admitted as soon as there is room (or refused for the deadline, then given up).
          if (refusedForRoom(err) && declined === undefined) continue;
          // The chain could not be read: try again next pass; any other refusal is final.
          if (!(err instanceof ApiError && (err.code === "chain_unavailable" || err.code === "job_not_visible"))) published.handled(jobId);
        }
      }
      // Generated together: the batcher runs concurrent jobs in one pass per step (PROTOCOL
      // §4.2), so four published prompts take about the time of one, not four times it.
      await settleAll(
        admitted.splice(0).map(async (a) => {
          try {
            await o.jobs.run(a, undefined, { awaitCommitReceipt: true });
            o.log.info({ jobId: a.jobId.toString() }, "served a job from its on-chain prompt");
          } catch (err) {
            // Generation failed: still within the decline window, a decline beats a penalty.
            await o.jobs.decline(a.jobId, "generation failed");
            o.log.warn({ jobId: a.jobId.toString(), err: String(err) }, "cannot serve the published prompt");
          }
          published.handled(a.jobId);
        }),
      );
    } finally {
      for (const a of admitted) o.jobs.cancel(a);
    }
  });

  await step("commit", async () => {
    for (const row of o.db.jobsIn("generated")) {
      // A request still serving it commits it itself (and answers with the transaction's hash).
      if (o.jobs.serving(row.jobId)) continue;
      const before = o.db.job(row.jobId)?.state;
      await o.jobs.commit(row.jobId);
      if (before === "generated" && o.db.job(row.jobId)?.state === "committed") report.committed++;
    }
  });

  if (o.disputeResponder) {
    const responder = o.disputeResponder;
    await step("disputes", async () => {
      // DisputeOpened does not name the prover: every dispute is read once, kept if it is ours.
      await followDisputes({ db: o.db.db, clients: o.clients, filter: { isMine: (jobId) => o.db.job(jobId) !== undefined }, ...logs });
      const disputes = liveDisputes(o.db.db);
      if (disputes.length === 0) return;
      // Moves go out through the node's own sender like every other transaction: persisted before
      // they are broadcast, and rebroadcast or replaced when stuck (PROTOCOL §5.7 "Transactions").
      // A dispute's clock is the last place an unmined transaction may sit unnoticed.
      const moves = await responder({
        clients: o.clients,
        disputes,
        modelDir: o.modelDir,
        traceFor: (jobId) => {
          try {
            return o.store.read(o.traceIdOf?.(jobId) ?? jobId.toString());
          } catch {
            return undefined; // no complete trace on disk: the dispute clock decides
          }
        },
        onOver: (d) => endDispute(o.db.db, d.id),
        send: async (move) => {
          const key = String(move.args[0]);
          // A move of this dispute still unmined: the chain the agent read has not seen it, so
          // what it chose now would repeat or contradict it. The next pass decides again.
          const unmined = o.db.txsFor("dispute-move", key).find((t) => t.state === "pending");
          if (unmined) return unmined.hash;
          // Broadcast, not awaited: every dispute's move goes out this pass, none waits behind
          // another's receipt (a challenger opening many disputes would otherwise spend the
          // clocks of the later ones on the earlier ones' waits).
          const { hash, receipt } = await o.sender.submit({ kind: "dispute-move", key, ...moveCall(o.clients, move) });
          receipt.catch((err: unknown) => o.log.warn({ dispute: key, move: move.kind, tx: hash, err: String(err) }, "a dispute move is not mined yet, or reverted; the next pass looks again"));
          return hash;
        },
        onError: (d, err) => {
          o.metrics.loopErrors.inc({ step: "disputes" });
          o.log.warn({ dispute: d.id, jobId: d.jobId.toString(), err: String(err) }, "could not play this dispute's turn; retrying next tick");
        },
      });
      // A dispute is the one thing that can cost the stake: every move the node makes is worth a line.
      for (const m of moves ?? []) {
        if (m.move && m.move.kind !== "wait") o.log.info({ dispute: m.disputeId, move: m.move.kind, tx: m.tx }, `dispute ${m.disputeId}: played ${m.move.kind}`);
      }
    });
  }

  if (o.publications) await step("voucher publications", () => o.publications!.tick(logs));
  if (o.batches) await step("batches", () => o.batches!.tick());
  // A publication whose batch this pass committed is shown at once, not a pass later.
  if (o.publications) await step("voucher publication answers", () => o.publications!.answer());

  await step("finalize", async () => {
    const r = await settleDue({
      clients: o.clients,
      db: o.db,
      sender: o.sender,
      onSettled: (jobId, status) => settled(o, jobId, status),
      onFinalizeReceipt: ({ hash, receipt }) => {
        for (const e of parseEventLogs({ abi: jobEscrowAbi, logs: [...receipt.logs], eventName: "JobFinalized" })) {
          const a = e.args;
          o.log.info(
            { jobId: a.jobId.toString(), proverPaid: formatEther(a.proverPaid), fee: formatEther(a.fee), auditFee: formatEther(a.auditFee), clientRefund: formatEther(a.clientRefund), tx: hash },
            `finalized job ${a.jobId}: ${formatEther(a.proverPaid)} credited to this prover (protocol fee ${formatEther(a.fee)}, audit fee ${formatEther(a.auditFee)}, ${formatEther(a.clientRefund)} refunded to the client)`,
          );
        }
      },
    });
    report.finalized += r.finalized;
    report.settled += r.settled;
    o.metrics.finalized.inc(r.finalized);
  });

  await step("withdraw", async () => {
    const { jobEscrow, nodeRegistry } = o.clients.deployment.contracts;
    const fromEscrow = await o.clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [me] });
    if (fromEscrow > 0n && fromEscrow >= o.withdrawThreshold) {
      const { hash } = await o.sender.send({ kind: "withdraw-escrow", key: "credits", address: jobEscrow, abi: jobEscrowAbi, functionName: "withdraw", args: [], what: "withdraw escrow credits" });
      report.withdrawn += fromEscrow;
      o.log.info({ amount: formatEther(fromEscrow), from: "escrow", tx: hash }, `withdrew ${formatEther(fromEscrow)} of escrow credits to the wallet`);
    }
    const fromRegistry = await o.clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [me] });
    if (fromRegistry > 0n && fromRegistry >= o.withdrawThreshold) {
      const { hash } = await o.sender.send({ kind: "withdraw-registry", key: "credits", address: nodeRegistry, abi: nodeRegistryAbi, functionName: "withdrawCredits", args: [], what: "withdraw registry credits" });
      report.withdrawn += fromRegistry;
      o.log.info({ amount: formatEther(fromRegistry), from: "registry", tx: hash }, `withdrew ${formatEther(fromRegistry)} of registry credits to the wallet`);
    }
  });

  await step("prune", async () => {
    // The loop's cursor: the chain head this pass reconciled against (liveness for status/healthz).
    o.db.setCursor("lastTickBlock", (await o.clients.publicClient.getBlockNumber()).toString());
    o.store.prune();
    const live = o.db.countLive();
    for (const state of ["generating", "generated", "committed"]) o.metrics.jobsByState.set({ state }, live[state] ?? 0);
    o.metrics.queuedJobs.set(o.jobs.queued);
    await o.capacity?.refresh();
  });
  report.ms = performance.now() - started;
  report.rpcRequests = (o.rpc?.requests ?? 0) - rpcBefore;
  o.metrics.loopPassSeconds.observe(report.ms / 1000);
  o.metrics.loopLastPassSeconds.set(report.ms / 1000);
  o.metrics.loopRpcCalls.set(report.rpcRequests);
  return report;
}

function settled(o: LoopOptions, jobId: bigint, status: number): void {
  try {
    o.store.markSettled(jobId.toString());
  } catch {
    // trace already pruned
  }
  if (status === JobStatus.Slashed) o.log.warn({ jobId: jobId.toString() }, `job ${jobId} was slashed: its collateral and a share of the free stake are lost, and the prover is jailed (\`status\` shows how much and until when)`);
  else if (status === JobStatus.Finalized) o.log.info({ jobId: jobId.toString() }, `job ${jobId} settled: finalized`);
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
