/**
 * One depth's world: provers of every strategy, the model's verifier pool, the canary role,
 * volunteers, the audit pool and the treasury, driven by one event queue. This file owns the
 * job's life (arrive → open → commit and draw → settle); audits.ts the auditors' side,
 * disputes.ts disputes, slashes and rewards. Every amount the contracts compute comes from
 * protocol/incentives/ with the Ignition parameters.
 */
import {
  boundaryCoverage,
  exposureLimit,
  jobCollateral,
  maxCost,
  quote,
  BPS,
  type AuditedModel,
  type IncentiveParams,
  type Quote,
  type StakeState,
} from "../../protocol/incentives/index.js";
import {
  newProverLedger,
  newVerifierLedger,
  proverStrategies,
  type ClientLedger,
  type Job,
  type ProverAgent,
  type TreasuryLedger,
  type VerifierIdentity,
  type VerifierOperator,
  type VerifierStrategy,
  type VolunteerLedger,
} from "./agents.js";
import type { Assumptions, DepthProfile } from "./assumptions.js";
import { assignAudit, auditorActs, exposeCanary, joinPool, recordMissIfUnanswered, vest, type PayVest } from "./audits.js";
import { closePlaceholder, expectCheatLoss, openPlaceholder, priceCheatLoss, resolveDispute, volunteerCheck } from "./disputes.js";
import { EventQueue } from "./event-queue.js";
import { rngFor, type Rng } from "./prng.js";

export type WorldEvent =
  | { kind: "arrive"; prover: ProverAgent }
  | { kind: "commit"; job: Job }
  | { kind: "audit"; job: Job }
  | { kind: "expose"; job: Job; identity: VerifierIdentity }
  | { kind: "vest"; vest: PayVest }
  | { kind: "volunteer"; job: Job }
  | { kind: "sybil"; job: Job }
  | { kind: "closePlaceholder"; job: Job }
  | { kind: "resolve"; job: Job; seq: number }
  | { kind: "priceCheat"; job: Job }
  | { kind: "settle"; job: Job }
  | { kind: "rejoin"; operator: VerifierOperator };

const DAY = 86_400;

export class World {
  readonly queue = new EventQueue<WorldEvent>();
  now = 0;
  readonly model: AuditedModel;
  readonly horizon: number;
  /** Every job has the same prompt and output limit, so the same escrow and collateral. */
  readonly escrowed: bigint;
  readonly collateral: bigint;
  /** Audit rate ρ and the share of boundaries an audit covers, min(k, L+1)/(L+1). */
  readonly rho: number;
  readonly coverage: number;
  /** Jobs a prover can have open under the exposure limit, and the arrival rate that fills `utilization` of it. */
  readonly capacityJobs: number;
  readonly proverRate: number;
  /** Canary jobs per real job, so that canaries are `canaryShare` of audits: c/(1−c). */
  readonly canariesPerJob: number;
  /** The canary role's prover: exactly minProverStake, one canary job at a time (§9.3). */
  readonly canaryProverStake: StakeState;

  readonly provers: ProverAgent[] = [];
  readonly operators: VerifierOperator[] = [];
  readonly pool: VerifierIdentity[] = [];
  auditPool: bigint;
  reserved = 0n;
  reports = 0;
  cappedReports = 0;
  readonly treasury: TreasuryLedger;
  readonly client: ClientLedger = { jobs: 0, paid: 0n, refundedFraud: 0, badOutputs: 0 };
  readonly volunteer: VolunteerLedger = { checks: 0, disputes: 0, compute: 0n, gas: 0n, rewards: 0n };

  /** Audit draws, auditors' detection, volunteers, the canary role's jobs. */
  readonly draws: Rng;
  readonly detection: Rng;
  readonly volunteers: Rng;
  private readonly canaries: Rng;
  private readonly quotes = new Map<number, Quote>();
  private nextJobId = 1;

  constructor(
    readonly depth: DepthProfile,
    readonly params: IncentiveParams,
    readonly a: Assumptions,
  ) {
    this.model = { layers: depth.layers };
    this.horizon = a.days * DAY;
    this.escrowed = maxCost({ inputTokens: a.job.inputTokens, maxOutputTokens: a.job.maxOutputTokens, inputPrice: depth.inputPrice, outputPrice: depth.outputPrice });
    this.collateral = jobCollateral(params, this.escrowed);
    this.rho = Number(params.auditRateBps) / Number(BPS);
    this.coverage = boundaryCoverage(params, depth.layers);
    this.capacityJobs = this.jobsWithin(depth.proverStake);
    const lifetime = a.timing.serviceSeconds + params.challengeWindow + a.timing.finalizeEvery / 2;
    this.proverRate = (a.utilization * this.capacityJobs) / lifetime;
    this.canaryProverStake = { stake: params.minProverStake, locked: this.collateral, unbonding: 0n };
    const seed = a.seed;
    this.draws = rngFor(seed, depth.depth, "draws");
    this.detection = rngFor(seed, depth.depth, "detection");
    this.volunteers = rngFor(seed, depth.depth, "volunteers");
    this.canaries = rngFor(seed, depth.depth, "canaries");
    this.canariesPerJob = a.canaryShare / (1 - a.canaryShare);

    for (const strategy of proverStrategies(a.schemeCheatRate)) {
      const n = strategy.cheatRate === 0 ? a.replicas.honest : a.replicas.cheater;
      for (let replica = 0; replica < n; replica++) {
        this.provers.push({
          id: `${strategy.name}#${replica}`,
          strategy,
          replica,
          stake: { stake: depth.proverStake, locked: 0n, unbonding: 0n },
          exposure: 0n,
          jailedUntil: 0,
          // Same replica index, same demand: strategies are compared on common random numbers.
          arrivals: rngFor(seed, depth.depth, "arrivals", replica),
          sizes: rngFor(seed, depth.depth, "sizes", replica),
          cheats: rngFor(seed, depth.depth, "cheats", strategy.name, replica),
          ledger: newProverLedger(),
        });
      }
    }
    const jobRate = this.proverRate * this.provers.length * (1 + this.canariesPerJob);
    const meanCost = this.quoteFor(Math.round((a.job.minOutputTokens + a.job.maxOutputTokens) / 2)).cost;
    this.auditPool = BigInt(Math.round(a.auditPoolSeedDays * DAY * jobRate)) * ((meanCost * params.auditFeeBps) / BPS);
    this.treasury = { fees: 0n, fraudSlashShare: 0n, lazySlashes: 0n, canaryRewards: 0n, canaryAuditFees: 0n, canaryGas: 0n, canaryJobs: 0, canariesCaught: 0, canariesExposed: 0, poolSeed: this.auditPool };

    const partner = this.provers.find((p) => p.strategy.colluding);
    const kinds: [VerifierStrategy, number][] = [["honest", a.pool.honest], ["lazy", a.pool.lazy], ["offline", a.pool.offline], ["colluding", a.pool.colluding]];
    for (const [strategy, count] of kinds) {
      for (let i = 0; i < count; i++) {
        const operator: VerifierOperator = { id: `${strategy}#${i}`, strategy, identities: 0, ledger: newVerifierLedger(), ...(strategy === "colluding" && partner ? { partner } : {}) };
        this.operators.push(operator);
        joinPool(this, operator, -1);
      }
    }
  }

  // ---------------------------------------------------------------- amounts

  gasCost(units: number): bigint {
    return BigInt(units) * this.a.gasPrice;
  }

  /** An honest prover's compute for a job of this cost. */
  computeCost(cost: bigint): bigint {
    return (cost * this.a.computeShareBps) / BPS;
  }

  /** An audit re-executes k boundaries and the head step: (k+1)/(L+2) of the job's compute. */
  auditCompute(cost: bigint): bigint {
    const l1 = BigInt(this.depth.layers) + 1n;
    const k = this.params.boundaries < l1 ? this.params.boundaries : l1;
    return (this.computeCost(cost) * (k + 1n)) / (l1 + 1n);
  }

  quoteFor(outputTokens: number): Quote {
    let q = this.quotes.get(outputTokens);
    if (!q) {
      const j = this.a.job;
      q = quote({ inputTokens: j.inputTokens, maxOutputTokens: j.maxOutputTokens, inputPrice: this.depth.inputPrice, outputPrice: this.depth.outputPrice, outputTokens, escrowed: this.escrowed, feeBps: this.params.feeBps, auditFeeBps: this.params.auditFeeBps });
      this.quotes.set(outputTokens, q);
    }
    return q;
  }

  /** The most jobs a prover with `stake` (and nothing else open) can hold open at once. */
  jobsWithin(stake: bigint): number {
    let lo = 0;
    let hi = Number(stake / this.collateral);
    while (lo < hi) {
      const n = Math.ceil((lo + hi) / 2);
      const ok = BigInt(n) * this.escrowed <= exposureLimit(this.params, this.model, stake - BigInt(n) * this.collateral);
      if (ok) lo = n;
      else hi = n - 1;
    }
    return lo;
  }

  /** Pool members eligible for a draw at `time`: joined before it and not ejected (§9.1). */
  eligibleAt(time: number): VerifierIdentity[] {
    return this.pool.filter((m) => !m.ejected && m.joinedAt < time);
  }

  // ---------------------------------------------------------------- the run

  run(): void {
    for (const prover of this.provers) this.queue.push(prover.arrivals.exponential(this.proverRate), { kind: "arrive", prover });
    for (let e = this.queue.pop(); e; e = this.queue.pop()) {
      this.now = e.time;
      this.dispatch(e.event);
    }
  }

  private dispatch(ev: WorldEvent): void {
    switch (ev.kind) {
      case "arrive":
        return this.arrive(ev.prover);
      case "commit":
        return this.commit(ev.job);
      case "audit":
        return auditorActs(this, ev.job);
      case "expose":
        return exposeCanary(this, ev.job, ev.identity);
      case "vest":
        return vest(this, ev.vest);
      case "volunteer":
        return volunteerCheck(this, ev.job);
      case "sybil":
        return openPlaceholder(this, ev.job);
      case "closePlaceholder":
        return closePlaceholder(this, ev.job);
      case "resolve":
        return resolveDispute(this, ev.job, ev.seq);
      case "priceCheat":
        return priceCheatLoss(this, ev.job);
      case "settle":
        return this.settle(ev.job);
      case "rejoin":
        return joinPool(this, ev.operator, this.now);
    }
  }

  /** A client asks `prover` for a job: it opens only if `lockCollateral` and the deterrence check pass (§9.4). */
  private arrive(prover: ProverAgent): void {
    const next = this.now + prover.arrivals.exponential(this.proverRate);
    if (next < this.horizon) this.queue.push(next, { kind: "arrive", prover });
    const outputTokens = prover.sizes.int(this.a.job.minOutputTokens, this.a.job.maxOutputTokens);
    const wantsToCheat = prover.cheats.chance(prover.strategy.cheatRate);
    const l = prover.ledger;
    if (this.now < prover.jailedUntil) {
      l.refusedJailed++;
      return;
    }
    const s = prover.stake;
    const K = this.collateral;
    if (s.stake < this.params.minProverStake || s.stake - s.locked < K) {
      l.refusedLimit++;
      return;
    }
    const freeAfterLock = s.stake - s.locked - K;
    if (prover.exposure + this.escrowed > exposureLimit(this.params, this.model, freeAfterLock)) {
      l.refusedLimit++;
      return;
    }
    s.locked += K;
    prover.exposure += this.escrowed;
    const q = this.quoteFor(outputTokens);
    const job = this.newJob(q, prover, wantsToCheat);
    l.jobs++;
    l.payable += q.proverPaid;
    l.gas += this.gasCost(this.a.gas.commitResult + this.a.gas.finalizeShare);
    const compute = this.computeCost(q.cost);
    if (wantsToCheat) {
      l.cheatJobs++;
      l.savedCompute += compute;
      l.cheatCost += q.cost;
    } else l.compute += compute;
    this.client.jobs++;
    this.queue.push(this.now + this.a.timing.serviceSeconds, { kind: "commit", job });
    // The canary role keeps pace with the jobs actually served, indistinguishable from them.
    if (this.canaries.chance(this.canariesPerJob)) this.openCanary(this.canaries.int(this.a.job.minOutputTokens, this.a.job.maxOutputTokens));
  }

  /** The canary role opens a job with its own prover, which corrupts every boundary and the head (§9.3). */
  private openCanary(outputTokens: number): void {
    const q = this.quoteFor(outputTokens);
    const job = this.newJob(q, undefined, true);
    this.treasury.canaryJobs++;
    const g = this.a.gas;
    this.treasury.canaryGas += this.gasCost(g.openJob + g.commitResult + g.finalizeShare + g.canaryCommitAndExpose);
    this.queue.push(this.now + this.a.timing.serviceSeconds, { kind: "commit", job });
  }

  private newJob(q: Quote, prover: ProverAgent | undefined, cheat: boolean): Job {
    return {
      id: this.nextJobId++,
      ...(prover ? { prover } : {}),
      canary: prover === undefined,
      cheat,
      head: prover?.strategy.head ?? true,
      quote: q,
      committedAt: 0,
      auditDeadline: 0,
      audited: false,
      auditState: "unaudited",
      status: "open",
      disputes: [],
      settleDue: false,
    };
  }

  /**
   * commitResult: the draw (audited with ρ, the auditor uniform over the eligible pool, §9.1),
   * then whatever follows it — the auditor's work, a volunteer's check, the sybil's move — and
   * settlement after the challenge window.
   */
  private commit(job: Job): void {
    const t = this.now;
    const tm = this.a.timing;
    job.status = "committed";
    job.committedAt = t;
    job.auditDeadline = t + Math.min(this.params.auditPeriod, this.params.challengeWindow);
    if (job.cheat && job.prover) expectCheatLoss(this, job);
    const eligible = this.eligibleAt(t);
    if (this.draws.chance(this.rho) && eligible.length > 0) {
      assignAudit(this, job, eligible[this.draws.int(0, eligible.length - 1)]!);
    }
    // Volunteers may challenge once nobody has priority: at once if unaudited, after the audit deadline otherwise.
    if (this.volunteers.chance(this.a.volunteerShare)) this.queue.push(job.audited ? job.auditDeadline + 60 : t + 600, { kind: "volunteer", job });
    // The sybil moves as soon as a non-auditor may open (the draw is public from the next block).
    if (job.cheat && job.prover?.strategy.sybil) this.queue.push(job.audited ? job.auditDeadline + 1 : t + 12, { kind: "sybil", job });
    const due = t + this.params.challengeWindow + 1;
    this.queue.push(Math.ceil(due / tm.finalizeEvery) * tm.finalizeEvery, { kind: "settle", job });
  }

  /** finalize: the prover is paid (less fee and audit fee), the collateral unlocked (§5.3, §9.2). */
  settle(job: Job): void {
    if (job.status !== "committed") return;
    if (job.disputes.some((d) => !d.resolved)) {
      job.settleDue = true;
      return;
    }
    job.status = "settled";
    const q = job.quote;
    this.auditPool += q.auditFee;
    recordMissIfUnanswered(this, job);
    if (job.canary) {
      // The canary role is client and prover: only the audit fee leaves it.
      this.treasury.canaryAuditFees += q.auditFee;
      return;
    }
    const p = job.prover!;
    p.ledger.paid += q.proverPaid;
    p.stake.locked -= this.collateral;
    p.exposure -= this.escrowed;
    this.treasury.fees += q.fee;
    this.client.paid += q.cost;
    if (job.cheat) {
      p.ledger.undetected++;
      this.client.badOutputs++;
    }
  }
}
