import type { Address, Hex } from "viem";
import { AuditState, auditStateName } from "../../protocol/chain/actions/audits.js";
import { JobStatus, jobStatusName } from "../../protocol/chain/contracts.js";
import type { Deployment } from "../../protocol/chain/deployments.js";
import { AvailabilityStatus, DisputePhase, type DisputeRecord, type JobRecord, type Ledger } from "../indexer/ledger.js";
import type { ChainState, ReadStateParameters, TokenInfo } from "./read-state.js";
import type { NodeProber } from "./probe-nodes.js";
import { cumulativeSeries } from "./series.js";
import type { DisputeView, JobView, Snapshot } from "./types.js";

/** Audit states that can still change, so their jobs are read from state (Agreed → Paid has no per-job event). */
const UNSETTLED_AUDIT = new Set<number>([AuditState.Pending, AuditState.Assigned, AuditState.Agreed]);

/** The newest `limit` jobs and disputes: what the page lists. */
export function shownJobs(ledger: Ledger, limit: number): JobRecord[] {
  return [...ledger.jobs.values()].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, limit);
}
export function shownDisputes(ledger: Ledger, limit: number): DisputeRecord[] {
  return [...ledger.disputes.values()].sort((a, b) => (a.openedAt === b.openedAt ? 0 : a.openedAt < b.openedAt ? 1 : -1)).slice(0, limit);
}

const liveStep = (d: DisputeRecord) => d.kind === "step" && d.phase < DisputePhase.ProverWon;

/** What to read from state for a snapshot of `ledger`: every node, every model, and the listed jobs and disputes that are still moving. */
export function stateQuery(ledger: Ledger, listLimit: number, blockNumber: bigint): ReadStateParameters {
  return {
    blockNumber,
    provers: [...ledger.provers.values()].map((p) => ({ address: p.address, models: [...p.offers].filter(([, o]) => o.active).map(([m]) => m) })),
    verifiers: [...ledger.verifiers.values()].map((v) => v.address),
    models: [...ledger.models.keys()],
    auditJobs: shownJobs(ledger, listLimit)
      .filter((j) => UNSETTLED_AUDIT.has(j.audit.state))
      .map((j) => j.id),
    liveDisputes: shownDisputes(ledger, listLimit)
      .filter(liveStep)
      .map((d) => d.id as Hex),
  };
}

export type BuildSnapshotParameters = {
  version: number;
  ledger: Ledger;
  state: ChainState;
  token: TokenInfo & { address: Address };
  deployment: Deployment;
  chain: { id: number; rpcUrl: string; indexed: bigint; caughtUp: boolean; confirmations: number };
  prober: NodeProber | undefined;
  listLimit: number;
};

const s = (v: bigint | undefined) => (v === undefined ? undefined : v.toString());
const n = (v: bigint | undefined) => (v === undefined ? undefined : Number(v));
const lc = (a: string) => a.toLowerCase();

export function buildSnapshot(p: BuildSnapshotParameters): Snapshot {
  const { ledger, state } = p;
  const names = p.prober?.modelNames() ?? new Map<string, string>();
  const jobs = [...ledger.jobs.values()];
  const count = (status: number) => jobs.filter((j) => j.status === status).length;
  const disputes = [...ledger.disputes.values()];
  const t = ledger.totals;
  return {
    version: p.version,
    builtAt: Date.now(),
    chain: { id: p.chain.id, rpcUrl: p.chain.rpcUrl, head: state.head.toString(), headTime: Number(state.headTime), indexed: p.chain.indexed.toString(), startBlock: p.deployment.startBlock, caughtUp: p.chain.caughtUp, confirmations: p.chain.confirmations },
    token: { address: p.token.address, symbol: p.token.symbol, decimals: p.token.decimals },
    contracts: { ...p.deployment.contracts },
    params: state.params,
    totals: {
      tokensIn: Number(t.tokensIn),
      tokensOut: Number(t.tokensOut),
      fees: t.fees.toString(),
      auditFees: t.auditFees.toString(),
      proverPaid: t.proverPaid.toString(),
      clientRefunds: t.clientRefunds.toString(),
      slashed: t.slashed.toString(),
      slashRewards: t.slashRewards.toString(),
      auditPoolFunded: t.auditPoolFunded.toString(),
      auditPaid: t.auditPaid.toString(),
      jobs: { total: jobs.length, open: count(JobStatus.Open), committed: count(JobStatus.Committed), finalized: count(JobStatus.Finalized), slashed: count(JobStatus.Slashed), expired: count(JobStatus.Expired), declined: count(JobStatus.Declined) },
      disputes: { total: disputes.length, live: disputes.filter((d) => (d.kind === "step" ? liveStep(d) : d.phase === AvailabilityStatus.Open)).length },
    },
    balances: {
      treasury: { address: state.treasury.address, wallet: state.treasury.wallet.toString(), escrowCredit: state.treasury.escrowCredit.toString(), registryCredit: state.treasury.registryCredit.toString() },
      auditPool: state.auditPool.toString(),
      auditReserved: state.auditReserved.toString(),
      totalEscrowed: state.totalEscrowed.toString(),
      totalStaked: state.totalStaked.toString(),
      totalUnbonding: state.totalUnbonding.toString(),
      // Equality holds unless someone donated tokens by plain transfer (then holds > owes).
      books: state.books.map((b) => ({ contract: b.contract, holds: b.holds.toString(), owes: b.owes.toString(), ok: b.holds >= b.owes })),
    },
    models: [...ledger.models.values()].map((m) => ({ id: m.id, ...(names.has(m.id) ? { name: names.get(m.id)! } : {}), auditRateBps: state.models.get(m.id)?.auditRateBps ?? m.auditRateBps ?? 0, detection: state.models.get(m.id)?.detection ?? 0, poolSize: m.poolSize })),
    provers: [...ledger.provers.values()].map((r) => {
      const live = state.provers.get(lc(r.address));
      const health = r.endpoint ? p.prober?.result(live?.endpoint ?? r.endpoint) : undefined;
      const limits = [...(live?.limits.values() ?? [])];
      return {
        address: r.address,
        endpoint: live?.endpoint ?? r.endpoint,
        ...(health ? { health: { ok: health.ok, ...(health.status !== undefined ? { status: health.status } : {}), ...(health.latencyMs !== undefined ? { latencyMs: health.latencyMs } : {}), ...(health.error ? { error: health.error } : {}), checkedAt: health.checkedAt } } : {}),
        stake: s(live?.stake ?? 0n)!,
        locked: s(live?.locked ?? 0n)!,
        unbonding: s(live?.unbonding ?? 0n)!,
        free: s(live?.free ?? 0n)!,
        exposure: s(live?.exposure ?? 0n)!,
        exposureLimit: (limits.length ? limits.reduce((a, b) => (b < a ? b : a)) : 0n).toString(),
        jailedUntil: Number(live?.jailedUntil ?? 0n),
        offers: [...r.offers].map(([modelId, o]) => ({ modelId, ...(names.has(modelId) ? { name: names.get(modelId)! } : {}), inputPrice: o.inputPrice.toString(), outputPrice: o.outputPrice.toString(), active: o.active })),
        jobsOpened: r.jobsOpened,
        jobsServed: r.jobsServed,
        jobsFinalized: r.jobsFinalized,
        jobsSlashed: r.jobsSlashed,
        tokensServed: Number(r.tokensServed),
        earned: r.earned.toString(),
        slashed: r.slashed.toString(),
        disputesWon: r.disputesWon,
        disputesLost: r.disputesLost,
      };
    }),
    verifiers: [...ledger.verifiers.values()].map((r) => {
      const live = state.verifiers.get(lc(r.address));
      return {
        address: r.address,
        registered: r.registered,
        endpoint: r.endpoint,
        stake: s(live?.stake ?? 0n)!,
        bond: s(live?.bond ?? 0n)!,
        pools: (live?.pools ?? [...r.pools]).map((m) => ({ modelId: m, ...(names.has(m) ? { name: names.get(m)! } : {}) })),
        misses: live?.misses ?? 0,
        ejected: r.ejected || (live?.ejectedBlock ?? 0) > 0,
        ejectedSlashed: r.ejectedSlashed,
        auditsAssigned: r.auditsAssigned,
        auditsReported: r.auditsReported,
        auditsDisputed: r.auditsDisputed,
        auditsMissed: r.auditsMissed,
        canariesApproved: r.canariesApproved,
        auditPayClaimed: r.auditPayClaimed.toString(),
        auditPayUnclaimed: s(live?.unclaimed ?? 0n)!,
        slashRewards: r.slashRewards.toString(),
        disputesOpened: r.disputesOpened,
        disputesWon: r.disputesWon,
      };
    }),
    jobs: { total: jobs.length, shown: shownJobs(ledger, p.listLimit).map((j) => jobView(j, state, names)) },
    disputes: { total: disputes.length, shown: shownDisputes(ledger, p.listLimit).map((d) => disputeView(d, state)) },
    series: cumulativeSeries(ledger.series, state.headTime),
  };
}

function jobView(j: JobRecord, state: ChainState, names: Map<string, string>): JobView {
  // State, read at the indexed block, decides audits that can still change (Agreed → Paid has no per-job event).
  const audit = state.audits.get(j.id);
  const a = audit ? { ...j.audit, state: audit.state, auditor: audit.auditor, deadline: audit.deadline, pay: audit.pay || j.audit.pay } : j.audit;
  const hasAuditor = a.auditor && !/^0x0{40}$/i.test(a.auditor);
  return {
    id: j.id.toString(),
    client: j.client,
    prover: j.prover,
    modelId: j.modelId,
    ...(names.has(j.modelId) ? { modelName: names.get(j.modelId)! } : {}),
    status: jobStatusName(j.status),
    inputTokens: j.inputTokens,
    ...(j.outputTokens !== undefined ? { outputTokens: j.outputTokens } : {}),
    escrowed: j.escrowed.toString(),
    ...(j.paid ? { paid: j.paid.cost.toString(), fee: j.paid.fee.toString(), auditFee: j.paid.auditFee.toString(), refund: j.paid.clientRefund.toString() } : {}),
    ...(j.refund !== undefined ? { refund: j.refund.toString() } : {}),
    ...(j.slash ? { slashed: j.slash.slashed.toString(), reward: j.slash.reward.toString() } : {}),
    openedAt: Number(j.openedAt),
    ...(j.committedAt !== undefined ? { committedAt: n(j.committedAt)! } : {}),
    ...(j.challengeDeadline !== undefined ? { challengeDeadline: n(j.challengeDeadline)! } : {}),
    ...(j.settledAt !== undefined ? { settledAt: n(j.settledAt)! } : {}),
    openDisputes: j.openDisputes,
    audit: {
      state: auditStateName(a.state),
      ...(hasAuditor ? { auditor: a.auditor! } : {}),
      ...(a.deadline ? { deadline: Number(a.deadline) } : {}),
      ...(a.pay ? { pay: a.pay.toString() } : {}),
      ...(a.canary ? { canary: true } : {}),
    },
  };
}

const STEP_PHASES = ["None", "awaiting step root", "awaiting proof", "awaiting data", "prover won", "challenger won", "cancelled"];
const AVAILABILITY_STATUSES = ["None", "awaiting answer", "answered", "prover failed", "cancelled"];

function disputeView(d: DisputeRecord, state: ChainState): DisputeView {
  const live = d.kind === "step" ? state.disputes.get(d.id.toLowerCase()) : undefined;
  const phase = live?.phase ?? d.phase;
  const isLive = d.kind === "step" ? phase < DisputePhase.ProverWon : phase === AvailabilityStatus.Open;
  const outcome =
    d.kind === "step"
      ? phase === DisputePhase.ChallengerWon ? "challenger won" : phase === DisputePhase.ProverWon ? "prover won" : phase === DisputePhase.Cancelled ? "cancelled" : undefined
      : phase === AvailabilityStatus.ProverFailed ? "challenger won" : phase === AvailabilityStatus.Answered ? "prover won" : phase === AvailabilityStatus.Cancelled ? "cancelled" : undefined;
  // The prover moves while awaiting a root or data (and an availability answer); the challenger while awaiting its proof.
  const turn = !isLive ? undefined : d.kind === "availability" || phase !== DisputePhase.AwaitingProof ? "prover" : "challenger";
  return {
    id: d.id,
    kind: d.kind,
    jobId: d.jobId.toString(),
    challenger: d.challenger,
    ...(d.prover ? { prover: d.prover } : {}),
    ...(d.position !== undefined ? { position: d.position, layer: d.layer! } : {}),
    stake: d.stake.toString(),
    phase: (d.kind === "step" ? STEP_PHASES : AVAILABILITY_STATUSES)[phase] ?? String(phase),
    ...(turn ? { turn } : {}),
    live: isLive,
    openedAt: Number(d.openedAt),
    ...(d.resolvedAt !== undefined ? { resolvedAt: Number(d.resolvedAt) } : {}),
    ...(isLive && (live?.deadline || d.deadline) ? { deadline: Number(live?.deadline || d.deadline) } : {}),
    ...(live ? { proverClockLeft: Number(live.proverClockLeft), challengerClockLeft: Number(live.challengerClockLeft) } : {}),
    ...(outcome ? { outcome } : {}),
    ...(d.detail ? { detail: d.detail } : {}),
  };
}
