import { describe, expect, it } from "vitest";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import {
  auditPay,
  bondFor,
  detectionProbability,
  exposureLimit,
  fraudSlash,
  incentiveParams,
  jobCollateral,
  lazyAuditorSlash,
  maxCost,
  quote,
  slashRewardRecipient,
  slashStake,
  toNumber,
} from "../../protocol/incentives/index.js";

const E18 = 10n ** 18n;
const params = incentiveParams(DEFAULT_DEPLOY_PARAMETERS);

describe("protocol/incentives: detection and the exposure limit (PROTOCOL §9.1, §9.4)", () => {
  it("reproduces the numbers PROTOCOL §9.4 quotes for the defaults", () => {
    expect(toNumber(detectionProbability(params, { layers: 32 }))).toBeCloseTo(0.1 * 2 / 33, 12);
    expect(toNumber(detectionProbability(params, { layers: 80 }))).toBeCloseTo(0.1 * 2 / 81, 12);
    expect(toNumber(detectionProbability(params, { layers: 4 }))).toBeCloseTo(0.04, 12);
    // Exposure ≤ 0.030 % (8B), 0.012 % (70B), 0.2 % (tiny) of free stake; ρ = 100 % at 70B: 0.12 %.
    const F = 10_000n * E18;
    expect(Number(exposureLimit(params, { layers: 32 }, F)) / Number(F)).toBeCloseTo(0.000303, 6);
    expect(Number(exposureLimit(params, { layers: 80 }, F)) / Number(F)).toBeCloseTo(0.0001235, 6);
    expect(Number(exposureLimit(params, { layers: 4 }, F)) / Number(F)).toBeCloseTo(0.002, 9);
    expect(Number(exposureLimit(params, { layers: 80, auditRateBps: 10_000 }, F)) / Number(F)).toBeCloseTo(0.001235, 6);
  });

  it("caps k at L + 1 and uses the model's own rate when set", () => {
    const wide = { ...params, boundaries: 9n };
    expect(detectionProbability(wide, { layers: 4 })).toEqual({ num: 1000n * 5n, den: 10_000n * 5n });
    expect(detectionProbability(params, { layers: 4, auditRateBps: 0 })).toEqual({ num: 2000n, den: 50_000n });
    expect(detectionProbability(params, { layers: 4, auditRateBps: 250 })).toEqual({ num: 500n, den: 50_000n });
  });

  it("rounds the limit down in one division, as the contract does", () => {
    // F·num·s / (den·10⁴·D) = 7·2000·5000 / (330000·10⁴·10) = 0.0021… → 0.
    expect(exposureLimit(params, { layers: 32 }, 7n)).toBe(0n);
    const F = 330_000_000_001n;
    expect(exposureLimit(params, { layers: 32 }, F)).toBe((F * 2000n * 5000n) / (330_000n * 10_000n * 10n));
  });
});

describe("protocol/incentives: job payouts (PROTOCOL §5.3, §9.2, §9.5)", () => {
  const job = { inputTokens: 6000, maxOutputTokens: 2000, inputPrice: 2n * 10n ** 11n, outputPrice: 6n * 10n ** 11n };

  it("escrow, collateral floor and bond", () => {
    const E = maxCost(job);
    expect(E).toBe(6000n * 2n * 10n ** 11n + 2000n * 6n * 10n ** 11n);
    expect(jobCollateral(params, E)).toBe(E18); // 2·E is far below the 1-token floor
    expect(jobCollateral(params, 3n * E18)).toBe(6n * E18);
    expect(bondFor(params, E)).toBe(10n ** 17n + E / 2n);
  });

  it("quote: fees round down, the prover takes the rest, the client the unused escrow", () => {
    const q = quote({ ...job, outputTokens: 1234, escrowed: maxCost(job), feeBps: 250n, auditFeeBps: 500n });
    const cost = 6000n * job.inputPrice + 1234n * job.outputPrice;
    expect(q.cost).toBe(cost);
    expect(q.fee).toBe((cost * 250n) / 10_000n);
    expect(q.auditFee).toBe((cost * 500n) / 10_000n);
    expect(q.proverPaid + q.fee + q.auditFee).toBe(cost);
    expect(q.clientRefund).toBe(maxCost(job) - cost);
    const odd = quote({ inputTokens: 1, maxOutputTokens: 1, inputPrice: 39n, outputPrice: 0n, outputTokens: 1, escrowed: 39n, feeBps: 250n, auditFeeBps: 500n });
    expect([odd.fee, odd.auditFee, odd.proverPaid]).toEqual([0n, 1n, 38n]);
  });

  it("audit pay is cost · fee / ρ, capped by the unreserved pool", () => {
    expect(auditPay({ cost: 1000n, auditFeeBps: 500n, rateBps: 1000n, pool: 10_000n, reserved: 0n })).toBe(500n);
    expect(auditPay({ cost: 1000n, auditFeeBps: 500n, rateBps: 1000n, pool: 10_000n, reserved: 9_800n })).toBe(200n);
    expect(auditPay({ cost: 1000n, auditFeeBps: 500n, rateBps: 1000n, pool: 100n, reserved: 200n })).toBe(0n);
    expect(auditPay({ cost: 999n, auditFeeBps: 500n, rateBps: 3n, pool: 10n ** 9n, reserved: 0n })).toBe(166_500n);
  });
});

describe("protocol/incentives: slashing and the reward (PROTOCOL §9.3–§9.5)", () => {
  it("fraud: the job's collateral, then s of the free and unbonding stake; other collateral untouched", () => {
    // The integration test's case: 1,000 staked, one job's K locked.
    const K = E18;
    const s = fraudSlash(params, { stake: 1000n * E18, locked: K, unbonding: 0n }, K);
    expect(s.slashed).toBe(K + (1000n * E18 - K) / 2n);
    expect(s.reward).toBe(s.slashed / 2n);
    expect(s.treasury).toBe(s.slashed - s.reward);
    const busy = slashStake({ stake: 1000n, locked: 300n, unbonding: 51n }, 100n, 5000n);
    expect(busy).toMatchObject({ fromLocked: 100n, fromFree: 350n, fromUnbonding: 25n, slashed: 475n });
    expect(busy.after).toEqual({ stake: 550n, locked: 200n, unbonding: 26n });
    expect(() => slashStake({ stake: 10n, locked: 1n, unbonding: 0n }, 2n, 5000n)).toThrow(RangeError);
  });

  it("a lazy auditor loses its bond and lazySlashBps of the rest (all of it by default)", () => {
    const s = lazyAuditorSlash(params, { stake: 20n * E18, locked: 10n * E18, unbonding: 3n * E18 }, 10n * E18);
    expect(s.slashed).toBe(23n * E18);
    expect(s.after).toEqual({ stake: 0n, locked: 0n, unbonding: 0n });
  });

  it("the reward goes to the earliest-opened dispute unresolved at the slash", () => {
    const d = (seq: number, challenger: string, resolvedBeforeSlash = false) => ({ seq, challenger, resolvedBeforeSlash });
    // An auditor opened first; a sybil opened later and won first: the auditor is paid.
    expect(slashRewardRecipient([d(2, "sybil"), d(1, "auditor")])?.challenger).toBe("auditor");
    // A dispute the prover won before the slash has no claim.
    expect(slashRewardRecipient([d(1, "lost", true), d(2, "finder")])?.challenger).toBe("finder");
    expect(slashRewardRecipient([])).toBeUndefined();
  });
});
