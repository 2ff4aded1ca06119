/**
 * The auditors' side of the simulation (PROTOCOL §9.1–§9.3): pool membership, assignments,
 * what each verifier strategy does with one, audit pay and its vesting, misses, canaries and
 * ejection. Pay and slashes are protocol/incentives/ formulas on the world's running pool.
 */
import { auditPay, fraudSlash, lazyAuditorSlash, slashReward } from "../../protocol/incentives/index.js";
import type { Job, PendingPay, VerifierIdentity, VerifierOperator } from "./agents.js";
import { openFinderDispute } from "./disputes.js";
import type { World } from "./world.js";

export type PayVest = { identity: VerifierIdentity; pending: PendingPay };

/** Register a fresh verifier address for `operator` and join the model's pool, bonding minBond (§9.1). */
export function joinPool(w: World, operator: VerifierOperator, time: number): void {
  if (time >= w.horizon) return;
  const bond = w.params.minBond;
  w.pool.push({ operator, stake: { stake: w.a.verifierStake, locked: bond, unbonding: 0n }, bond, joinedAt: time, ejected: false, misses: 0, pending: new Set(), audits: 0, canaries: 0, canariesApproved: 0 });
  operator.identities++;
  const gas = w.gasCost(w.a.gas.registerAndJoin);
  operator.ledger.gas += gas;
  operator.ledger.expected -= Number(gas);
}

/** Does the assigned auditor approve without checking? (lazy always; colluding on its partner's jobs) */
export function approvesBlindly(job: Job, auditor: VerifierIdentity): boolean {
  const op = auditor.operator;
  return op.strategy === "lazy" || (op.strategy === "colluding" && job.prover !== undefined && job.prover === op.partner);
}

/** The draw picked `auditor`: book the assignment and schedule its answer (an offline auditor never answers). */
export function assignAudit(w: World, job: Job, auditor: VerifierIdentity): void {
  job.audited = true;
  job.auditor = auditor;
  job.auditState = "assigned";
  const l = auditor.operator.ledger;
  l.assigned++;
  auditor.audits++;
  if (job.canary) {
    l.canaries++;
    auditor.canaries++;
  }
  // On a partner's job, both sides are taken in expectation over the partner's cheating rate, so
  // the comparison does not hang on whether this one job happened to be a cheat.
  const partnerRate = auditor.operator.partner === job.prover && job.prover ? job.prover.strategy.cheatRate : undefined;
  const honest = partnerRate === undefined ? honestExpectation(w, job, job.cheat) : mix(partnerRate, honestExpectation(w, job, true), honestExpectation(w, job, false));
  l.honestOnSameAudits += honest.total;
  const own = partnerRate === undefined ? ownExpectation(w, job, auditor, honest, job.cheat) : mix(partnerRate, ownExpectation(w, job, auditor, honest, true), ownExpectation(w, job, auditor, honest, false));
  if (partnerRate !== undefined) {
    l.partnerJobs++;
    l.partnerOwn += own.total;
    l.partnerHonest += honest.total;
  }
  l.expected += own.total;
  l.expectedFraudRewards += own.fraudRewards;
  if (auditor.operator.strategy === "offline") return;
  const tm = w.a.timing;
  w.queue.push(w.now + (approvesBlindly(job, auditor) ? tm.lazyReportSeconds : tm.honestAuditSeconds), { kind: "audit", job });
}

type Expectation = { total: number; fraudRewards: number };

const mix = (p: number, yes: Expectation, no: Expectation): Expectation => ({ total: p * yes.total + (1 - p) * no.total, fraudRewards: p * yes.fraudRewards + (1 - p) * no.fraudRewards });

/** Report agreement: the pay as the pool stands, less the report's and the claim's gas. */
function agreeValue(w: World, job: Job): number {
  const g = w.a.gas;
  const pay = auditPay({ cost: job.quote.cost, auditFeeBps: w.params.auditFeeBps, rateBps: w.params.auditRateBps, pool: w.auditPool, reserved: w.reserved });
  return Number(pay - w.gasCost(g.reportAudit + g.claimShare));
}

/**
 * What an honest auditor expects from this assignment as things stand: it re-executes (compute
 * and fixDraw gas), then wins the slash reward if the job is a canary, a head cheat, or a
 * boundary cheat whose boundary it drew (coverage), and is paid for a report otherwise.
 */
function honestExpectation(w: World, job: Job, cheat: boolean): Expectation {
  const work = -Number(w.auditCompute(job.quote.cost) + w.gasCost(w.a.gas.fixDraw));
  if (!job.canary && !cheat) return { total: work + agreeValue(w, job), fraudRewards: 0 };
  const stake = job.canary ? w.canaryProverStake : job.prover!.stake;
  const reward = Number(slashReward(w.params, fraudSlash(w.params, stake, w.collateral).slashed));
  const p = job.canary || job.head ? 1 : w.coverage;
  const total = work + p * (reward - Number(w.gasCost(w.a.gas.dispute))) + (1 - p) * agreeValue(w, job);
  return { total, fraudRewards: job.canary ? 0 : p * reward };
}

/**
 * What this auditor's own strategy expects from the assignment: honest work as above; nothing
 * when offline; the pay without the work when approving blindly, plus the partner's payment for a
 * covered cheat — and, for a lazy auditor's canary, its whole stake and every unvested pay.
 */
function ownExpectation(w: World, job: Job, auditor: VerifierIdentity, honest: Expectation, cheat: boolean): Expectation {
  const op = auditor.operator;
  if (op.strategy === "offline") return { total: 0, fraudRewards: 0 };
  if (!approvesBlindly(job, auditor)) return honest;
  const fix = Number(w.gasCost(w.a.gas.fixDraw));
  if (op.strategy === "colluding") return { total: agreeValue(w, job) - fix + (cheat ? Number(w.computeCost(job.quote.cost)) : 0), fraudRewards: 0 };
  if (!job.canary) return { total: agreeValue(w, job) - fix, fraudRewards: 0 };
  let unvested = 0n;
  for (const p of auditor.pending) unvested += p.pay;
  const lost = lazyAuditorSlash(w.params, auditor.stake, auditor.bond).slashed + unvested;
  return { total: -fix - Number(w.gasCost(w.a.gas.reportAudit)) - Number(lost), fraudRewards: 0 };
}

/** The assigned auditor answers: disputes what it finds (honest work), or reports agreement. */
export function auditorActs(w: World, job: Job): void {
  const identity = job.auditor!;
  if (identity.ejected || job.status !== "committed") return;
  const op = identity.operator;
  op.ledger.gas += w.gasCost(w.a.gas.fixDraw);
  if (approvesBlindly(job, identity)) {
    agree(w, job, identity);
    if (op.strategy === "lazy" && job.canary) {
      job.approvedCanary = ++identity.canariesApproved;
      w.queue.push(w.now + 60, { kind: "expose", job, identity });
    }
    if (op.strategy === "colluding" && job.cheat) {
      // The partner pays its colluder what the cheat saved it (the most it gains).
      const bribe = w.computeCost(job.quote.cost);
      op.ledger.bribes += bribe;
      job.prover!.ledger.bribesPaid += bribe;
    }
    return;
  }
  op.ledger.compute += w.auditCompute(job.quote.cost);
  if (detects(w, job)) {
    job.auditState = "disputed";
    identity.misses = 0;
    op.ledger.disputes++;
    op.ledger.gas += w.gasCost(w.a.gas.dispute);
    openFinderDispute(w, job, "auditor", identity);
  } else agree(w, job, identity);
}

/** An honest re-execution finds a canary or a head cheat always, a one-boundary cheat if its boundary was drawn. */
export function detects(w: World, job: Job): boolean {
  return job.canary || (job.cheat && (job.head || w.detection.chance(w.coverage)));
}

/** reportAudit: reserve `cost · auditFee / ρ`, capped by the unreserved pool; it vests after vestDelay (§9.2). */
function agree(w: World, job: Job, identity: VerifierIdentity): void {
  const q = job.quote;
  const full = (q.cost * w.params.auditFeeBps) / w.params.auditRateBps;
  const pay = auditPay({ cost: q.cost, auditFeeBps: w.params.auditFeeBps, rateBps: w.params.auditRateBps, pool: w.auditPool, reserved: w.reserved });
  w.reports++;
  if (pay < full) w.cappedReports++;
  w.reserved += pay;
  job.auditState = "agreed";
  identity.misses = 0;
  identity.operator.ledger.gas += w.gasCost(w.a.gas.reportAudit + w.a.gas.claimShare);
  const pending: PendingPay = { pay, vested: false };
  identity.pending.add(pending);
  w.queue.push(w.now + w.params.vestDelay, { kind: "vest", vest: { identity, pending } });
}

/** claimAuditPay once vested (an ejected auditor's pay was forfeited to the pool instead). */
export function vest(w: World, v: PayVest): void {
  if (v.identity.ejected || !v.identity.pending.delete(v.pending)) return;
  w.auditPool -= v.pending.pay;
  w.reserved -= v.pending.pay;
  v.identity.operator.ledger.pay += v.pending.pay;
}

/** exposeCanary: an auditor that agreed with a canary loses its bond and lazySlashBps of its stake, and is ejected (§9.3). */
export function exposeCanary(w: World, job: Job, identity: VerifierIdentity): void {
  if (job.auditState !== "agreed" || identity.ejected) return;
  const s = lazyAuditorSlash(w.params, identity.stake, identity.bond);
  identity.stake = s.after;
  const l = identity.operator.ledger;
  l.slashed += s.slashed;
  l.canariesPerLife.push(job.approvedCanary ?? 0);
  w.treasury.lazySlashes += s.slashed;
  w.treasury.canariesExposed++;
  eject(w, identity);
}

/** An assignment nobody answered is a miss when the job settles; maxMisses in a row eject (§9.2). */
export function recordMissIfUnanswered(w: World, job: Job): void {
  const identity = job.auditor;
  if (!job.audited || job.auditState !== "assigned" || !identity) return;
  identity.operator.ledger.missed++;
  if (identity.ejected) return;
  if (++identity.misses >= w.params.maxMisses) eject(w, identity);
}

/** Out of the pool for good, unvested pay forfeited; a lazy operator comes back under a new address. */
function eject(w: World, identity: VerifierIdentity): void {
  identity.ejected = true;
  let forfeited = 0n;
  for (const p of identity.pending) forfeited += p.pay;
  identity.pending.clear();
  w.reserved -= forfeited;
  const op = identity.operator;
  op.ledger.forfeited += forfeited;
  op.ledger.ejections++;
  op.ledger.auditsPerLife.push(identity.audits);
  if (op.strategy === "lazy") w.queue.push(w.now + w.a.timing.rejoinSeconds, { kind: "rejoin", operator: op });
}
