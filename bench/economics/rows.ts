/**
 * The result rows of one depth's world: one per prover strategy (twice for cheaters: the gain as
 * the compute saved, and as the full price), per verifier strategy, and one each for volunteers,
 * clients and the treasury. `profitPerJob` is the expected profit per job served (per audit
 * assigned, per check) — each random catch replaced by its probability × amount at the moment it
 * was drawn, an unbiased, low-variance estimate — and `realizedProfitPerJob` this run's draw.
 */
import type { ProverAgent, VerifierOperator } from "./agents.js";
import { toTokens, type DepthName } from "./assumptions.js";
import type { World } from "./world.js";

export type Role = "prover" | "verifier" | "volunteer" | "client" | "treasury";

export type EconomicsRow = {
  depth: DepthName;
  role: Role;
  strategy: string;
  /** Tokens per job served (prover), per audit assigned (verifier), per check (volunteer), per real job (client, treasury). */
  profitPerJob: number;
  realizedProfitPerJob: number;
  jobs: number;
  [column: string]: number | string;
};

const sum = (xs: readonly bigint[]) => xs.reduce((s, x) => s + x, 0n);
const fsum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : fsum(xs) / xs.length);

export function depthRows(w: World): EconomicsRow[] {
  const rows: EconomicsRow[] = [];
  const depth = w.depth.depth;
  const days = w.a.days;
  const byStrategy = new Map<string, ProverAgent[]>();
  for (const p of w.provers) byStrategy.set(p.strategy.name, [...(byStrategy.get(p.strategy.name) ?? []), p]);
  for (const [name, agents] of byStrategy) {
    const L = agents.map((a) => a.ledger);
    const jobs = fsum(L.map((l) => l.jobs));
    const tok = (f: (l: (typeof L)[number]) => bigint) => toTokens(sum(L.map(f)));
    const costs = tok((l) => l.compute) + tok((l) => l.gas) + tok((l) => l.sybilGas) + tok((l) => l.bribesPaid);
    const realized = tok((l) => l.paid) - costs - tok((l) => l.slashed) + tok((l) => l.rewardsCaptured);
    const expected = tok((l) => l.payable) - costs - fsum(L.map((l) => l.expectedLoss)) / 1e18 + fsum(L.map((l) => l.expectedCaptured)) / 1e18;
    const saved = tok((l) => l.savedCompute);
    // The full-price variant: each cheating job also yields its price beyond the compute saved.
    const extra = tok((l) => l.cheatCost) - saved;
    const capital = (toTokens(w.depth.proverStake) * w.a.capitalCostPerYear * days * agents.length) / 365 / Math.max(1, jobs);
    const common = {
      replicas: agents.length,
      cheatJobs: fsum(L.map((l) => l.cheatJobs)),
      refusedByLimit: fsum(L.map((l) => l.refusedLimit)),
      refusedJailed: fsum(L.map((l) => l.refusedJailed)),
      caught: fsum(L.map((l) => l.caught)),
      undetected: fsum(L.map((l) => l.undetected)),
      earned: tok((l) => l.paid),
      compute: tok((l) => l.compute),
      gas: tok((l) => l.gas) + tok((l) => l.sybilGas),
      slashed: tok((l) => l.slashed),
      rewardsCaptured: tok((l) => l.rewardsCaptured),
      capitalCostPerJob: capital,
    };
    const variant = (suffix: string, gain: number, bonus: number): EconomicsRow => ({
      depth,
      role: "prover",
      strategy: name + suffix,
      profitPerJob: (expected + bonus) / jobs,
      realizedProfitPerJob: (realized + bonus) / jobs,
      profitPerDay: (realized + bonus) / (days * agents.length),
      jobs,
      ...common,
      gain,
      expectedLossToGain: gain > 0 ? fsum(L.map((l) => l.expectedSlash)) / 1e18 / gain : 0,
      realizedLossToGain: gain > 0 ? common.slashed / gain : 0,
      ...(agents[0]!.strategy.sybil ? { realizedProfitPerJobOldRule: (realized + bonus + tok((l) => l.rewardsCapturedOldRule) - common.rewardsCaptured) / jobs } : {}),
    });
    rows.push(variant("", saved, 0));
    if (agents[0]!.strategy.cheatRate > 0) rows.push(variant("-fullprice", saved + extra, extra));
  }
  for (const strategy of ["honest", "lazy", "offline", "colluding"] as const) {
    const ops = w.operators.filter((o) => o.strategy === strategy);
    if (ops.length > 0) rows.push(verifierRow(w, strategy, ops));
  }
  const v = w.volunteer;
  const volunteerProfit = toTokens(v.rewards - v.compute - v.gas);
  rows.push({ depth, role: "volunteer", strategy: "volunteer", profitPerJob: volunteerProfit / Math.max(1, v.checks), realizedProfitPerJob: volunteerProfit / Math.max(1, v.checks), jobs: v.checks, disputes: v.disputes, rewards: toTokens(v.rewards), compute: toTokens(v.compute) });
  const realJobs = w.client.jobs;
  const c = w.client;
  rows.push({ depth, role: "client", strategy: "client", profitPerJob: -toTokens(c.paid) / realJobs, realizedProfitPerJob: -toTokens(c.paid) / realJobs, jobs: realJobs, refundedFraud: c.refundedFraud, badOutputsPer1000: (1000 * c.badOutputs) / realJobs });
  const t = w.treasury;
  const canaryCost = toTokens(t.canaryRewards + t.canaryAuditFees + t.canaryGas);
  const net = toTokens(t.fees + t.fraudSlashShare + t.lazySlashes) - canaryCost;
  rows.push({
    depth,
    role: "treasury",
    strategy: "fees-and-canaries",
    profitPerJob: net / realJobs,
    realizedProfitPerJob: net / realJobs,
    jobs: realJobs,
    feesPerJob: toTokens(t.fees) / realJobs,
    canaryCostPerJob: canaryCost / realJobs,
    lazySlashesPerJob: toTokens(t.lazySlashes) / realJobs,
    fraudSlashSharePerJob: toTokens(t.fraudSlashShare) / realJobs,
    canaryJobs: t.canaryJobs,
    canariesCaught: t.canariesCaught,
    canariesExposed: t.canariesExposed,
  });
  return rows;
}

function verifierRow(w: World, strategy: string, ops: VerifierOperator[]): EconomicsRow {
  const L = ops.map((o) => o.ledger);
  const tok = (f: (l: (typeof L)[number]) => bigint) => toTokens(sum(L.map(f)));
  const assigned = fsum(L.map((l) => l.assigned));
  const realized = tok((l) => l.pay) + tok((l) => l.fraudRewards) + tok((l) => l.canaryRewards) + tok((l) => l.bribes) - tok((l) => l.compute) - tok((l) => l.gas) - tok((l) => l.slashed);
  const expected = fsum(L.map((l) => l.expected)) / 1e18;
  const lives = L.flatMap((l) => l.auditsPerLife);
  const canaryLives = L.flatMap((l) => l.canariesPerLife);
  return {
    depth: w.depth.depth,
    role: "verifier",
    strategy,
    profitPerJob: expected / Math.max(1, assigned),
    realizedProfitPerJob: realized / Math.max(1, assigned),
    jobs: assigned,
    operators: ops.length,
    identities: fsum(ops.map((o) => o.identities)),
    honestOnSameAudits: fsum(L.map((l) => l.honestOnSameAudits)) / 1e18 / Math.max(1, assigned),
    profitPerJobWithoutFraud: (expected - fsum(L.map((l) => l.expectedFraudRewards)) / 1e18) / Math.max(1, assigned),
    canaries: fsum(L.map((l) => l.canaries)),
    disputes: fsum(L.map((l) => l.disputes)),
    missed: fsum(L.map((l) => l.missed)),
    ejections: fsum(L.map((l) => l.ejections)),
    pay: tok((l) => l.pay),
    fraudRewards: tok((l) => l.fraudRewards),
    canaryRewards: tok((l) => l.canaryRewards),
    bribes: tok((l) => l.bribes),
    compute: tok((l) => l.compute),
    gas: tok((l) => l.gas),
    slashed: tok((l) => l.slashed),
    forfeited: tok((l) => l.forfeited),
    partnerJobs: fsum(L.map((l) => l.partnerJobs)),
    partnerProfitPerJob: fsum(L.map((l) => l.partnerOwn)) / 1e18 / Math.max(1, fsum(L.map((l) => l.partnerJobs))),
    partnerHonestPerJob: fsum(L.map((l) => l.partnerHonest)) / 1e18 / Math.max(1, fsum(L.map((l) => l.partnerJobs))),
    auditsPerLife: mean(lives),
    canariesPerLife: canaryLives.length === 0 ? 0 : Math.max(...canaryLives),
  };
}
