/**
 * `npm run sim:economics` in quick mode, asserted (issue #9's proof): at the default parameters
 * an honest prover and an honest verifier earn more than every listed deviation, the sybil scheme
 * loses money and a lazy verifier loses its stake at its first canary — so a parameter or contract
 * change that breaks an incentive fails CI. Same seed, same output.
 */
import { describe, expect, it } from "vitest";
import { runEconomics, toJson } from "../../bench/economics/run.js";

describe("economics simulation (quick mode)", () => {
  const result = runEconomics({ quick: true });
  const depths = ["tiny", "8b", "70b"] as const;

  it("reports every required strategy at the 8B and 70B depths", () => {
    for (const depth of ["8b", "70b"]) {
      const rows = result.rows.filter((r) => r.depth === depth);
      const provers = rows.filter((r) => r.role === "prover").map((r) => r.strategy);
      expect(provers).toEqual(expect.arrayContaining(["honest", "cheat-0.1%", "cheat-1%", "cheat-10%", "cheat-100%", "cheat-1%-fullprice", "cheat-sybil", "cheat-colluding"]));
      const verifiers = rows.filter((r) => r.role === "verifier").map((r) => r.strategy);
      expect(verifiers).toEqual(["honest", "lazy", "offline", "colluding"]);
      for (const r of rows) expect(Number.isFinite(r.profitPerJob), `${depth} ${r.role} ${r.strategy}`).toBe(true);
      // Jail: a slashed prover refuses every job for the jail period; an honest one is never jailed.
      expect(rows.find((r) => r.strategy === "cheat-100%")!.refusedJailed).toBeGreaterThan(0);
      expect(rows.find((r) => r.strategy === "honest")!.refusedJailed).toBe(0);
    }
  });

  it.each(depths)("%s: an honest prover earns more per job than every cheating strategy", (depth) => {
    const provers = result.rows.filter((r) => r.depth === depth && r.role === "prover");
    const honest = provers.find((r) => r.strategy === "honest")!;
    expect(honest.profitPerJob).toBeGreaterThan(0);
    for (const r of provers.filter((r) => r !== honest)) expect(r.profitPerJob, r.strategy).toBeLessThan(honest.profitPerJob);
  });

  it.each(depths)("%s: an honest verifier earns more per audit than a lazy, offline or colluding one on the same audits", (depth) => {
    const verifiers = result.rows.filter((r) => r.depth === depth && r.role === "verifier");
    for (const r of verifiers.filter((r) => r.strategy !== "honest")) {
      if (r.strategy === "colluding" && r.partnerJobs === 0) continue;
      expect(r.profitPerJob, r.strategy).toBeLessThan(Number(r.honestOnSameAudits));
    }
    const s = result.depths.find((d) => d.depth === depth)!;
    expect(s.analysis.canary.honestPerAuditWithoutCanaries).toBeGreaterThan(0);
  });

  it.each(depths)("%s: the sybil scheme loses money and a lazy verifier loses its stake at its first canary", (depth) => {
    const rows = result.rows.filter((r) => r.depth === depth);
    for (const r of rows.filter((r) => r.strategy.startsWith("cheat-sybil"))) expect(r.profitPerJob).toBeLessThan(0);
    const lazy = rows.find((r) => r.role === "verifier" && r.strategy === "lazy")!;
    expect(Number(lazy.slashed)).toBeGreaterThan(0);
    expect(Number(lazy.canariesPerLife)).toBe(1);
    const s = result.depths.find((d) => d.depth === depth)!;
    expect(s.lazyVerifier.canariesToLoseStake).toBe(1);
    expect(s.lazyVerifier.stakeShareLost).toBe(1);
    // Deterrence: the §9.4 bound holds at the exposure limit, and one cheat loses far more.
    expect(s.deterrenceRatio.allOpenJobsBound).toBeGreaterThanOrEqual(10 * 0.999);
    expect(s.deterrenceRatio.analytic).toBeGreaterThan(10);
  });

  it("the headline holds at the defaults", () => {
    expect(result.headline.failed).toEqual([]);
    expect(result.headline.holds).toBe(true);
  });

  it("is deterministic: the same seed gives the same output", () => {
    const again = runEconomics({ quick: true, depths: ["tiny"] });
    const once = runEconomics({ quick: true, depths: ["tiny"] });
    expect(toJson(again)).toBe(toJson(once));
    expect(toJson(runEconomics({ quick: true, depths: ["tiny"], assumptions: { seed: 10 } }))).not.toBe(toJson(once));
  });
});
