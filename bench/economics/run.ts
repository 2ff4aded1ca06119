/**
 * `runEconomics`: build one world per model depth with the Ignition defaults, run it, and collect
 * rows, per-depth summaries, the headline checks of issue #9 and the findings. Pure and seeded:
 * the same options give the same result (no clock, no I/O).
 */
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import { incentiveParams, type IncentiveParams } from "../../protocol/incentives/index.js";
import { DEFAULT_ASSUMPTIONS, DEPTHS, QUICK_ASSUMPTIONS, toTokens, type Assumptions, type DepthName } from "./assumptions.js";
import { findings } from "./findings.js";
import { depthRows, type EconomicsRow } from "./rows.js";
import { summariseDepth, type DepthSummary, type HeadlineCheck } from "./summary.js";
import { World } from "./world.js";

export type EconomicsOptions = {
  quick?: boolean;
  /** Overrides of the stated assumptions (seed, canary share, …). */
  assumptions?: Partial<Assumptions>;
  depths?: readonly DepthName[];
};

export type EconomicsResult = {
  quick: boolean;
  parameters: IncentiveParams;
  assumptions: Assumptions;
  assumptionLines: string[];
  depths: DepthSummary[];
  rows: EconomicsRow[];
  /** Per depth: the deterrence ratio and the canaries within which a lazy verifier loses its stake. */
  deterrenceRatio: Partial<Record<DepthName, DepthSummary["deterrenceRatio"]>>;
  lazyVerifierLosesStakeWithinCanaries: Partial<Record<DepthName, number>>;
  /** The headline holds when every expected-basis check holds at every depth. */
  headline: { holds: boolean; failed: HeadlineCheck[] };
  findings: string[];
};

export function runEconomics(options: EconomicsOptions = {}): EconomicsResult {
  const quick = options.quick ?? false;
  const a: Assumptions = { ...(quick ? QUICK_ASSUMPTIONS : DEFAULT_ASSUMPTIONS), ...options.assumptions };
  const params = incentiveParams(DEFAULT_DEPLOY_PARAMETERS);
  const depths: DepthSummary[] = [];
  const rows: EconomicsRow[] = [];
  for (const profile of DEPTHS.filter((d) => !options.depths || options.depths.includes(d.depth))) {
    const world = new World(profile, params, a);
    world.run();
    const r = depthRows(world);
    rows.push(...r);
    depths.push(summariseDepth(world, r));
  }
  const failed = depths.flatMap((d) => d.checks).filter((c) => c.basis === "expected" && !c.holds);
  return {
    quick,
    parameters: params,
    assumptions: a,
    assumptionLines: describeAssumptions(a),
    deterrenceRatio: Object.fromEntries(depths.map((d) => [d.depth, d.deterrenceRatio])),
    lazyVerifierLosesStakeWithinCanaries: Object.fromEntries(depths.map((d) => [d.depth, Math.max(d.lazyVerifier.canariesToLoseStake, d.lazyVerifier.simulatedMaxCanariesPerLife)])),
    depths,
    rows,
    headline: { holds: failed.length === 0, failed },
    findings: findings(depths, rows, params, a),
  };
}

function describeAssumptions(a: Assumptions): string[] {
  const perM = (x: bigint) => (toTokens(x) * 1e6).toFixed(2);
  return [
    `1 token ≈ 1 USD; a job is ${a.job.inputTokens} prompt tokens and ${a.job.minOutputTokens}–${a.job.maxOutputTokens} generated (uniform), escrowed at the maximum`,
    `prices per million prompt/generated tokens: ${DEPTHS.map((d) => `${d.depth} ${perM(d.inputPrice)}/${perM(d.outputPrice)}`).join(", ")} (hosted open-weight list prices, rounded)`,
    `an honest prover's compute costs ${Number(a.computeShareBps) / 100}% of the job's cost (GPU, power and its outside option, e.g. mining); an audit re-executes k boundaries and the head: (k+1)/(L+2) of that`,
    `a cheating job skips its compute (gain = compute saved) and is caught like a one-boundary corruption (p = ρ·min(k,L+1)/(L+1)); the -fullprice rows count the job's whole cost as the gain; cheat-head chooses its output (caught whenever audited)`,
    `prover stake: ${DEPTHS.map((d) => `${d.depth} ${toTokens(d.proverStake)}`).join(", ")} tokens, no top-up after a slash; demand ${a.utilization * 100}% of what the exposure limit lets that stake carry (Poisson arrivals)`,
    `verifier pool: ${a.pool.honest} honest, ${a.pool.lazy} lazy (re-register under a new address after ejection), ${a.pool.offline} offline, ${a.pool.colluding} colluding (partner of cheat-colluding, paid the compute its partner's covered cheats save); ${toTokens(a.verifierStake)} tokens staked each`,
    `canaries are ${a.canaryShare * 100}% of audits (c); a canary prover holds exactly minProverStake; volunteers check ${a.volunteerShare * 100}% of jobs at k boundaries once nobody has priority; the sybil, head and colluding schemes cheat on ${a.schemeCheatRate * 100}% of jobs`,
    `gas at ${(toTokens(a.gasPrice) * 1e6).toPrecision(2)} tokens per million gas (a cheap rollup); gas units: ${Object.entries(a.gas).map(([k, v]) => `${k} ${v / 1000}k`).join(", ")}`,
    `timing: commit ${a.timing.serviceSeconds} s after open, honest audit ${a.timing.honestAuditSeconds} s, lazy report ${a.timing.lazyReportSeconds} s, finalizeMany every ${a.timing.finalizeEvery} s; a cheater stalls its whole proverClock before a slash; audit pool seeded with ${a.auditPoolSeedDays} day(s) of expected audit fees`,
    `profitPerJob is the expected profit per job (per audit): every random catch replaced by its probability × amount when drawn; realized columns are this run's draw; capital cost (${a.capitalCostPerYear * 100}%/year on stake) is reported, not deducted`,
  ];
}

/** JSON with bigints as decimal strings. */
export function toJson(result: EconomicsResult): string {
  return JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n";
}
