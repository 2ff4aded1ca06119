/**
 * The adversary suite (issue #8): every attack of the first adversarial review and those found
 * since, each played against the real contracts over JSON-RPC and the real agent. Rows are
 * never deleted: an attack that once worked stays here.
 */
import { cancelAfterSlash, deepHidingAttack, deepHidingTargets, layerOutSlack, softmaxShiftAttacks, stepWithheldAll } from "./attacks-step.js";
import { inflatedTokenCounts, oovPromptPublish, promptFlood, sampledOutput, substitutedPrompt, teacherForcedOutput } from "./attacks-tokens.js";
import { traceWithheldAll, traceWithheldSelective } from "./attacks-availability.js";
import { HONEST_SETUPS, honestSetup, runtimeModel } from "./attacks-honest.js";
import { disputeInCommitBlock, fixOrLapseTheDraw, placeholderDispute, sybilFirstOnAuditedJob, sybilRewardCapture } from "./attacks-incentives.js";
import { exposureAttacks, jailedProverTakesJob } from "./attacks-deterrence.js";
import { auditPayDoubleClaim, canaryAttacks, poolFlood, steerTheDraw } from "./attacks-auditors.js";
import { ejectAuditorByWithholding, silentAuditorExcused, withholdFromAuditor, withholdThenSybilFirst } from "./attacks-withholding-audits.js";
import { batchDoubleCharge, batchFabricatedVoucher, batchHiddenCheat, batchMiscount, batchOverMax, batchSampledOutput, batchWithheldLeaf } from "./attacks-batches.js";
import { publicationIgnored, publicationSkipNonce, publicationThenWithdraw } from "./attacks-publication.js";
import { pricedOutProverMove } from "./attacks-liveness.js";
import { createWorld, type World } from "./env.js";
import type { AttackRow } from "./report.js";

export type SuiteOptions = {
  /**
   * `full`: every deep-hiding rung and every honest setup (bench); `small`: a representative
   * subset (npm test's suite test); `smoke`: one attack, one token attack and one honest setup,
   * to keep the benchmark's own entry point working (`bench:adversary -- --quick`).
   */
  scope: "full" | "small" | "smoke";
  log?: (line: string) => void;
};

/** Deep-hiding rungs of the smaller run: one per branch of the §7.2 graph, the row bound and the head step. */
const SMALL_RUNGS = ["deep-hiding-SS1_PART", "deep-hiding-K_PART", "deep-hiding-S", "deep-hiding-E", "deep-hiding-O", "deep-hiding-G_PART", "deep-hiding-OUT_ERR_PART", "deep-hiding-head-LOGIT_PART"];

export async function runAdversarySuite(opts: SuiteOptions): Promise<AttackRow[]> {
  const w = await createWorld();
  const rows: AttackRow[] = [];
  const run = async (f: (w: World) => Promise<AttackRow | AttackRow[]>) => {
    const r = await f(w);
    for (const row of Array.isArray(r) ? r : [r]) {
      rows.push(row);
      opts.log?.(`${row.cheaterWon || row.honestLost ? "FAIL" : "ok  "} ${row.attack}: ${row.outcome}`);
    }
  };
  try {
    if (opts.scope === "smoke") {
      await run(softmaxShiftAttacks);
      await run(substitutedPrompt);
      const model = await runtimeModel(w);
      await run((x) => honestSetup(x, model, HONEST_SETUPS[1]!));
      return rows;
    }
    await run(softmaxShiftAttacks);
    await run(substitutedPrompt);
    await run(inflatedTokenCounts);
    await run(teacherForcedOutput);
    await run(sampledOutput);
    for (const target of deepHidingTargets()) {
      if (opts.scope === "full" || SMALL_RUNGS.includes(target.name)) await run((x) => deepHidingAttack(x, target));
    }
    await run(traceWithheldAll);
    await run(traceWithheldSelective);
    await run(stepWithheldAll);
    await run(oovPromptPublish);
    await run(promptFlood);
    await run(layerOutSlack);
    await run(cancelAfterSlash);
    // Liveness: the honest prover's answer priced out of blocks while its clock runs.
    await run(pricedOutProverMove);
    // Incentives (PROTOCOL §9): who is rewarded, the fraud penalty, auditors and their pools.
    await run(sybilRewardCapture);
    await run(sybilFirstOnAuditedJob);
    await run(disputeInCommitBlock);
    await run(fixOrLapseTheDraw);
    await run(placeholderDispute);
    await run(jailedProverTakesJob);
    await run(exposureAttacks);
    await run(canaryAttacks);
    await run(steerTheDraw);
    await run(auditPayDoubleClaim);
    await run(ejectAuditorByWithholding);
    await run(silentAuditorExcused);
    await run(withholdFromAuditor);
    await run(withholdThenSybilFirst);
    await run(poolFlood);
    // Vouchers and batches (PROTOCOL §5.8): a cheat inside a batch, charges vouchers do not allow.
    await run(batchHiddenCheat);
    await run(batchFabricatedVoucher);
    await run(batchSampledOutput);
    if (opts.scope === "full") {
      await run(batchDoubleCharge);
      await run(batchOverMax);
      await run(batchWithheldLeaf);
      await run(batchMiscount);
    }
    // Voucher publication (PROTOCOL §5.8): a prover ignoring or batching around a published
    // voucher; a client withdrawing after publishing (last: its withdrawal request stays).
    await run(publicationIgnored);
    if (opts.scope === "full") await run(publicationSkipNonce);
    await run(publicationThenWithdraw);
    const m = await runtimeModel(w);
    for (const setup of opts.scope === "full" ? HONEST_SETUPS : HONEST_SETUPS.slice(1, 2)) await run((x) => honestSetup(x, m, setup));
  } finally {
    await w.stop();
  }
  return rows;
}
