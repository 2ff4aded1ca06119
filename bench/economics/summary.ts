/**
 * Per-depth summary: the analytic numbers beside what the run measured (the deterrence ratio,
 * how fast lazy auditors are caught, the audit pool), and the headline checks of issue #9.
 */
import type { DepthName } from "./assumptions.js";
import { analyseDepth, type DepthAnalysis } from "./analytic.js";
import type { EconomicsRow } from "./rows.js";
import type { World } from "./world.js";

export type HeadlineCheck = {
  depth: DepthName;
  property: string;
  holds: boolean;
  /** expected: the variance-reduced estimate (the headline); realized: this run's single draw (reported beside it). */
  basis: "expected" | "realized";
  detail: string;
};

export type DepthSummary = {
  depth: DepthName;
  layers: number;
  deterrenceRatio: DepthAnalysis["deterrenceRatio"] & { simulated: number; simulatedRealized: number };
  lazyVerifier: { canariesToLoseStake: number; stakeLost: number; stakeShareLost: number; expectedAuditsBeforeCaught: number; simulatedAuditsPerLife: number; simulatedMaxCanariesPerLife: number; lives: number };
  offlineVerifier: { missesBeforeEjection: number };
  auditPool: { seed: number; end: number; reports: number; cappedReports: number };
  analysis: DepthAnalysis;
  checks: HeadlineCheck[];
};

/** The boundary cheaters at the four listed rates (the deterrence ratio's population). */
const RATE_CHEATERS = new Set(["cheat-0.1%", "cheat-1%", "cheat-10%", "cheat-100%"]);

export function summariseDepth(w: World, rows: readonly EconomicsRow[]): DepthSummary {
  const analysis = analyseDepth(w);
  const cheaters = w.provers.filter((p) => RATE_CHEATERS.has(p.strategy.name)).map((p) => p.ledger);
  const saved = cheaters.reduce((s, l) => s + Number(l.savedCompute), 0);
  const lazy = rows.find((r) => r.role === "verifier" && r.strategy === "lazy");
  const offline = rows.find((r) => r.role === "verifier" && r.strategy === "offline");
  const lazyLives = w.operators.filter((o) => o.strategy === "lazy").flatMap((o) => o.ledger.auditsPerLife);
  return {
    depth: w.depth.depth,
    layers: w.depth.layers,
    deterrenceRatio: {
      ...analysis.deterrenceRatio,
      simulated: cheaters.reduce((s, l) => s + l.expectedSlash, 0) / saved,
      simulatedRealized: cheaters.reduce((s, l) => s + Number(l.slashed), 0) / saved,
    },
    lazyVerifier: {
      canariesToLoseStake: analysis.canary.canariesToLoseStake,
      stakeLost: analysis.canary.lazyStakeLost,
      stakeShareLost: analysis.canary.lazyStakeShareLost,
      expectedAuditsBeforeCaught: analysis.canary.expectedAuditsBeforeCaught,
      simulatedAuditsPerLife: Number(lazy?.auditsPerLife ?? 0),
      simulatedMaxCanariesPerLife: Number(lazy?.canariesPerLife ?? 0),
      lives: lazyLives.length,
    },
    offlineVerifier: { missesBeforeEjection: offline ? Number(offline.missed) / Math.max(1, Number(offline.ejections)) : 0 },
    auditPool: { seed: Number(w.treasury.poolSeed) / 1e18, end: Number(w.auditPool) / 1e18, reports: w.reports, cappedReports: w.cappedReports },
    analysis,
    checks: headlineChecks(w.depth.depth, rows, analysis),
  };
}

const fmt = (x: number) => x.toPrecision(3);

function headlineChecks(depth: DepthName, rows: readonly EconomicsRow[], analysis: DepthAnalysis): HeadlineCheck[] {
  const checks: HeadlineCheck[] = [];
  const of = (role: string) => rows.filter((r) => r.role === role);
  const provers = of("prover");
  const verifiers = of("verifier");
  const honestProver = provers.find((r) => r.strategy === "honest")!;
  const honestVerifier = verifiers.find((r) => r.strategy === "honest")!;

  for (const basis of ["expected", "realized"] as const) {
    const key = basis === "expected" ? "profitPerJob" : "realizedProfitPerJob";
    const losers = provers.filter((r) => r !== honestProver && !(Number(r[key]) < Number(honestProver[key])));
    const best = provers.filter((r) => r !== honestProver).reduce((a, b) => (Number(b[key]) > Number(a[key]) ? b : a));
    checks.push({
      depth,
      property: "an honest prover earns more per job than every listed deviation",
      holds: losers.length === 0,
      basis,
      detail: `honest ${fmt(Number(honestProver[key]))}; best deviation ${best.strategy} ${fmt(Number(best[key]))}${losers.length ? `; not below honest: ${losers.map((r) => r.strategy).join(", ")}` : ""}`,
    });
  }
  const deviations = verifiers.filter((r) => r !== honestVerifier);
  // Matched: each deviation against what an honest auditor expects on exactly its assignments. A
  // colluder deviates only on its partner's jobs; with none drawn it behaved as an honest auditor.
  const deviated = (r: EconomicsRow) => r.strategy !== "colluding" || Number(r.partnerJobs) > 0;
  const vLosers = deviations.filter((r) => deviated(r) && !(r.profitPerJob < Number(r.honestOnSameAudits)));
  const colluder = deviations.find((r) => r.strategy === "colluding");
  checks.push({
    depth,
    property: "an honest verifier earns more per audit than every listed deviation, on the deviation's own audits",
    holds: vLosers.length === 0,
    basis: "expected",
    detail:
      deviations.map((r) => `${r.strategy} ${fmt(r.profitPerJob)} vs honest ${fmt(Number(r.honestOnSameAudits))}`).join("; ") +
      (colluder ? `; on its partner's ${colluder.partnerJobs} jobs the colluder expects ${fmt(Number(colluder.partnerProfitPerJob))} per job vs honest ${fmt(Number(colluder.partnerHonestPerJob))}` : ""),
  });
  checks.push({
    depth,
    property: "an honest verifier is paid with no cheater in the network (audit pay alone covers compute and gas)",
    holds: analysis.canary.honestPerAuditWithoutCanaries > 0,
    basis: "expected",
    detail: `${fmt(analysis.canary.honestPerAuditWithoutCanaries)} per audit from pay alone (pay ${fmt(analysis.gains.auditPay)}, compute ${fmt(analysis.gains.auditCompute)}); ${fmt(Number(honestVerifier.profitPerJobWithoutFraud))} with this run's canaries`,
  });
  const vRealLosers = deviations.filter((r) => !(r.realizedProfitPerJob < honestVerifier.realizedProfitPerJob));
  checks.push({
    depth,
    property: "the honest verifiers' average earns more per audit than every listed deviation",
    holds: vRealLosers.length === 0,
    basis: "realized",
    detail: `honest ${fmt(honestVerifier.realizedProfitPerJob)}; ${deviations.map((r) => `${r.strategy} ${fmt(r.realizedProfitPerJob)}`).join("; ")}`,
  });
  const sybil = provers.filter((r) => r.strategy.startsWith("cheat-sybil"));
  checks.push({
    depth,
    property: "the sybil scheme loses money (placeholders and late disputes capture no audit-found reward)",
    holds: sybil.every((r) => r.profitPerJob < 0 && r.realizedProfitPerJob < 0),
    basis: "expected",
    detail: sybil.map((r) => `${r.strategy} ${fmt(r.profitPerJob)} (realized ${fmt(r.realizedProfitPerJob)}, under the old first-resolved rule ${fmt(Number(r.realizedProfitPerJobOldRule))}; rewards captured ${fmt(Number(r.rewardsCaptured))})`).join("; "),
  });
  const lazy = verifiers.find((r) => r.strategy === "lazy")!;
  const n = analysis.canary.canariesToLoseStake;
  checks.push({
    depth,
    property: `a lazy verifier loses its stake within ${n} canary`,
    holds: Number(lazy.slashed) > 0 && Number(lazy.canariesPerLife) <= n && lazy.profitPerJob < honestVerifier.profitPerJob,
    basis: "expected",
    detail:
      Number(lazy.ejections) === 0
        ? `no canary reached a lazy auditor in this run (${lazy.jobs} lazy audits; 1/c = ${fmt(analysis.canary.expectedAuditsBeforeCaught)})`
        : `each exposed lazy identity lost ${fmt(analysis.canary.lazyStakeShareLost * 100)}% of its stake at the canary that exposed it (which of its approved canaries that was, at most: ${lazy.canariesPerLife}); ${fmt(Number(lazy.auditsPerLife))} audits per life on average (1/c = ${fmt(analysis.canary.expectedAuditsBeforeCaught)}); ${lazy.ejections} identities lost ${fmt(Number(lazy.slashed))} tokens`,
  });
  return checks;
}
