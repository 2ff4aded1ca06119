/**
 * The adversary suite, smaller (issue #8): every attack kind against the real contracts over
 * JSON-RPC and the real agent — a representative subset of the deep-hiding rungs (all of them
 * run in test/dispute/ladder.test.ts against mocks, and in `npm run bench:adversary`) and one
 * honest setup. No cheater may win and no honest party may lose.
 */
import { describe, expect, it } from "vitest";
import { runAdversarySuite } from "../../bench/adversary/suite.js";
import type { AttackRow } from "../../bench/adversary/report.js";

const REQUIRED = [
  "softmax-shift",
  "softmax-shift-bias-all",
  "substituted-prompt",
  "inflated-token-counts",
  "teacher-forced-output",
  "sampled-output",
  "trace-withheld-all",
  "trace-withheld-selective",
  "step-withheld-all",
  "oov-prompt-publish",
  "prompt-flood",
  "layer-out-slack",
  "cancel-after-slash",
  "priced-out-prover-move",
  "sybil-reward-capture",
  "sybil-first-on-audited-job",
  "dispute-in-commit-block",
  "fix-or-lapse-the-draw",
  "placeholder-dispute",
  "jailed-prover-takes-job",
  "exposure-over-limit",
  "unbond-after-open",
  "canary-after-commit",
  "lazy-auditor-canary",
  "steer-the-draw",
  "audit-pay-double-claim",
  "eject-auditor-by-withholding",
  "silent-auditor-excused",
  "withhold-from-auditor",
  "withhold-then-sybil-first",
  "pool-flood",
  "batch-hidden-cheat",
  "batch-fabricated-voucher",
  "batch-sampled-output",
  "publication-ignored",
  "publication-then-withdraw",
];

describe("adversary suite (smaller run)", () => {
  it("no cheater wins and no honest party loses, attack by attack", { timeout: 900_000 }, async () => {
    const rows: AttackRow[] = await runAdversarySuite({ scope: "small" });
    const names = rows.map((r) => r.attack);
    for (const attack of REQUIRED) expect(names, `attack ${attack} missing`).toContain(attack);
    expect(names.some((n) => n.startsWith("deep-hiding-head-"))).toBe(true);
    expect(names.some((n) => n.startsWith("honest-"))).toBe(true);
    for (const r of rows) {
      expect({ attack: r.attack, cheaterWon: r.cheaterWon, honestLost: r.honestLost }, r.outcome).toEqual({ attack: r.attack, cheaterWon: false, honestLost: false });
      // Every transaction the attack and its defence sent fits the 2M-gas budget (PROTOCOL §7.7).
      expect(r.maxTxGas).toBeLessThan(2_000_000n);
    }
  });
});
