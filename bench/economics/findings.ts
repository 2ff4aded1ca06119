/**
 * What a reader should know beyond the headline: places where the defaults work only with help
 * (the canary budget, the ejection lag), the limits of the model (collusion, pool capture) and the
 * costs around the protocol (capital, gas). Each finding is computed from the run, never typed in.
 */
import type { IncentiveParams } from "../../protocol/incentives/index.js";
import type { Assumptions } from "./assumptions.js";
import type { EconomicsRow } from "./rows.js";
import type { DepthSummary } from "./summary.js";

const f = (x: number) => (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? x.toPrecision(3) : x.toExponential(2));
const pct = (x: number) => `${(x * 100).toPrecision(3)}%`;

export function findings(summaries: readonly DepthSummary[], rows: readonly EconomicsRow[], params: IncentiveParams, a: Assumptions): string[] {
  const out: string[] = [];
  for (const c of summaries.flatMap((s) => s.checks)) {
    if (!c.holds) out.push(`${c.basis === "expected" ? "FAIL" : "NOTE (one draw)"} [${c.depth}] ${c.property}: ${c.detail}`);
  }
  const treasury = (d: string) => rows.find((r) => r.depth === d && r.role === "treasury")!;
  const overBudget = summaries.filter((s) => Number(treasury(s.depth).canaryCostPerJob) > Number(treasury(s.depth).feesPerJob));
  const canary = summaries.map((s) => {
    const t = treasury(s.depth);
    const c = s.analysis.canary;
    const capped = a.canaryShare > c.affordableShare ? `; with the reward capped at the audit pay, c = ${pct(a.canaryShare)} would cost ${f(c.cappedRewardCostPerJob)} per real job and honest would still beat lazy by ${f(c.cappedRewardHonestMinusLazy)} per audit` : "";
    return `${s.depth}: reward ${f(c.rewardPerCaughtCanary)} = ${f(c.rewardPerCaughtCanary / s.analysis.gains.auditPay)}× the audit pay; the program cost ${f(Number(t.canaryCostPerJob))} per real job vs fees ${f(Number(t.feesPerJob))} (${f(Number(t.canaryCostPerJob) / Number(t.feesPerJob))}×); the fee pays for c = ${f(c.affordableShare)}, at which a lazy auditor lasts ~${f(c.auditsBeforeCaughtAtAffordableShare)} audits and expects ${f(c.lazyPerAuditAtAffordableShare)} per audit vs honest ${f(c.honestPerAuditAtAffordableShare)}${capped}`;
  });
  out.push(
    `CANARY BUDGET: the honest finder of a canary takes challengerRewardBps of the canary prover's slash, K + s·(minProverStake − K), so each caught canary costs the treasury thousands of audit pays. ${overBudget.length > 0 ? `At c = ${pct(a.canaryShare)} the program costs more than the protocol fee brings in (${overBudget.map((s) => s.depth).join(", ")}). ` : `At c = ${pct(a.canaryShare)} the fee covers it. `}${canary.join("; ")}. At the affordable share honest auditing still beats lazy (barely where an audit re-executes a large share of the model), but a lazy auditor is caught only after tens of thousands of audits. Possible fix (the lead's call): pay the finder of a committed canary the job's audit pay instead of the slash reward and return the rest of the canary prover's slash to the treasury.`,
  );
  const offline = summaries.map((s) => `${s.depth} ${f(s.offlineVerifier.missesBeforeEjection)}`).join(", ");
  out.push(`EJECTION LAG: an offline auditor is ejected after maxMisses = ${params.maxMisses} misses, but a miss only counts when the job settles (or someone calls recordMiss), so it keeps being drawn for a whole challenge window: it missed ${offline} assignments per ejection here, each of them an unaudited job. Calling recordMiss from honest nodes at the audit deadline, or counting misses at the next draw, would shorten this.`);
  const coll = summaries.map((s) => `${s.depth}: coalition cheating pays only above a pool share of 1 − ${f(1 - s.analysis.collusion.breakEvenPoolShare)}; capturing every free place of a pool with ${a.pool.honest} honest members costs ${f(s.analysis.collusion.poolCaptureStake)} tokens of verifier stake`).join("; ");
  out.push(`COLLUSION (limitation): a colluding auditor forgoes the slash reward on its partner's cheats (many orders of magnitude above the gain it shields), so bribing one member never pays; a coalition wins only with (almost) the whole pool. ${coll}. MAX_POOL = 64 and minBond make a pool the prover fills first (PoolFull for later honest joiners) the real risk: detection is then 0 and canaries do not help (the colluders audit canaries honestly).`);
  const capital = summaries.map((s) => `${s.depth}: ${f(s.analysis.capital.stakePerJobPerSecond)} tokens of stake per job/s, capital cost ${f(s.analysis.capital.capitalCostPerJob)} per job (${pct(s.analysis.capital.capitalShareOfMargin)} of the honest margin at ${pct(a.capitalCostPerYear)}/year)`).join("; ");
  out.push(`CAPITAL: the exposure limit ties throughput to stake. ${capital}. A higher audit rate for deep models (setModelAuditRate) lowers it proportionally.`);
  const gas = summaries.map((s) => `${s.depth}: serving ${f(s.analysis.breakEvenGasPerMgas.prover)}, auditing ${f(s.analysis.breakEvenGasPerMgas.auditor)} tokens/Mgas`).join("; ");
  out.push(`GAS: per-job settlement and per-audit reports stop paying above these gas prices (assumed ${f(summaries[0]!.analysis.breakEvenGasPerMgas.assumed)} tokens/Mgas): ${gas}. On an L2 at ~0.01 gwei (≈ 0.03 tokens/Mgas) 8B jobs of this size do not pay their own settlement.`);
  const det = summaries.map((s) => `${s.depth}: one job at the limit ${f(s.deterrenceRatio.analytic)}, every open job at once ${f(s.deterrenceRatio.allOpenJobsBound)} (§9.4 bound, per unit of escrow)`).join("; ");
  out.push(`DETERRENCE: the ratio is enormous for a single cheat (the slash takes s of the whole free stake) and exactly the designed D = 10 only for a prover that cheats on every open job at once at the limit: ${det}.`);
  return out;
}
