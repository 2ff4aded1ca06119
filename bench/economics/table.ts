/** The printed report of `npm run sim:economics`: parameters, assumptions, per-depth tables, checks, findings. */
import type { EconomicsResult } from "./run.js";
import type { EconomicsRow } from "./rows.js";

export const num = (x: number) => (x === 0 ? "0" : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? x.toPrecision(3) : x.toExponential(2));

function table(header: string[], lines: (string | number)[][]): string {
  const cells = lines.map((l) => l.map((c) => (typeof c === "number" ? num(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((l) => l[i]!.length)));
  const row = (l: string[]) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [row(header), row(widths.map((w) => "-".repeat(w))), ...cells.map(row)].join("\n");
}

export function proverTable(rows: readonly EconomicsRow[]): string {
  return table(
    ["prover strategy", "jobs", "cheats", "caught", "refused", "profit/job", "realized/job", "profit/day", "loss÷gain"],
    rows.map((r) => [r.strategy, r.jobs, r.cheatJobs!, r.caught!, Number(r.refusedByLimit) + Number(r.refusedJailed), r.profitPerJob, r.realizedProfitPerJob, r.profitPerDay!, r.expectedLossToGain!]),
  );
}

export function verifierTable(rows: readonly EconomicsRow[]): string {
  return table(
    ["verifier strategy", "audits", "canaries", "ejected", "profit/audit", "realized", "honest same audits", "no-fraud profit"],
    rows.map((r) => [r.strategy, r.jobs, r.canaries!, r.ejections!, r.profitPerJob, r.realizedProfitPerJob, r.honestOnSameAudits!, r.profitPerJobWithoutFraud!]),
  );
}

export function printReport(result: EconomicsResult, log: (line: string) => void = console.log): void {
  const { parameters: p, assumptions: a } = result;
  log(`stepproof economics simulation (PROTOCOL §9), seed ${a.seed}${result.quick ? ", QUICK mode" : ""}: ${a.days} days of jobs per prover, ${a.replicas.cheater} provers per cheating strategy, ${a.replicas.honest} honest`);
  log(`parameters (Ignition defaults): ρ = ${p.auditRateBps} bps, k = ${p.boundaries}, s = ${p.slashShareBps} bps, jail ${p.jailPeriod / 86400} d, auditFee ${p.auditFeeBps} bps, fee ${p.feeBps} bps, collateral max(${num(Number(p.minCollateral) / 1e18)} token, ${p.collateralBps} bps of escrow), reward ${p.challengerRewardBps} bps, lazySlash ${p.lazySlashBps} bps, maxMisses ${p.maxMisses}, minBond ${num(Number(p.minBond) / 1e18)}, minProverStake ${num(Number(p.minProverStake) / 1e18)}, bond ${num(Number(p.challengerBond) / 1e18)} + ${p.bondBps} bps, D = 10`);
  for (const line of result.assumptionLines) log(`assumption: ${line}`);
  for (const s of result.depths) {
    const rows = result.rows.filter((r) => r.depth === s.depth);
    const an = s.analysis;
    log("");
    log(`=== ${s.depth} (L = ${s.layers}): p = ${num(an.detectionProbability)}, exposure ≤ ${num(an.exposureLimitShareOfFreeStake * 100)}% of free stake, escrow ${num(an.job.escrow)}, collateral ${num(an.job.collateral)}, mean cost ${num(an.job.meanCost)} tokens; ${an.atExposureLimit.openJobs} jobs open at the limit`);
    log(proverTable(rows.filter((r) => r.role === "prover")));
    log("");
    log(verifierTable(rows.filter((r) => r.role === "verifier")));
    for (const r of rows.filter((r) => r.role === "volunteer" || r.role === "client" || r.role === "treasury")) {
      const extra = Object.entries(r)
        .filter(([k]) => !["depth", "role", "strategy", "profitPerJob", "realizedProfitPerJob"].includes(k))
        .map(([k, v]) => `${k} ${typeof v === "number" ? num(v) : v}`)
        .join(", ");
      log(`${r.role}: ${num(r.profitPerJob)} per ${r.role === "volunteer" ? "check" : "job"} (${extra})`);
    }
    const d = s.deterrenceRatio;
    log(`deterrenceRatio (expected loss ÷ gain per cheating job): analytic ${num(d.analytic)} (full price ${num(d.analyticFullPrice)}), simulated ${num(d.simulated)} (this draw ${num(d.simulatedRealized)}), every open job at once ${num(d.allOpenJobsBound)} ≥ D = ${d.floor}`);
    const l = s.lazyVerifier;
    log(`lazy verifier: loses ${num(l.stakeShareLost * 100)}% of its stake (${num(l.stakeLost)} tokens) at its first approved canary (within ${l.canariesToLoseStake} canary); ${num(l.simulatedAuditsPerLife)} audits per life over ${l.lives} lives (1/c = ${num(l.expectedAuditsBeforeCaught)})`);
    log(`audit pool: seeded ${num(s.auditPool.seed)}, ended ${num(s.auditPool.end)} tokens; ${s.auditPool.cappedReports} of ${s.auditPool.reports} reports capped by the pool`);
    for (const c of s.checks) log(`${c.holds ? "HOLDS" : c.basis === "expected" ? "FAILS" : "differs"} (${c.basis}) ${c.property}: ${c.detail}`);
  }
  log("");
  log(`headline at the defaults: ${result.headline.holds ? "every property HOLDS" : "SOME PROPERTY FAILS"} (${result.headline.failed.length} failed)`);
  for (const x of result.findings) log(`- ${x}`);
}
