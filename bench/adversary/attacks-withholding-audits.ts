/**
 * A cheater that withholds its trace from its auditor (PROTOCOL §9.1 "Not served the trace",
 * §8.1): the auditor forces the rows it needs on-chain with availability challenges, and the
 * cheater times its answers — after the audit deadline, to have misses counted against the
 * auditor; after the auditor's priority, so that its sybil disputes first; after the challenge
 * window, so that nobody can dispute at all.
 */
import type { Hex } from "viem";
import { answerAvailability, challengeAvailability, type TraceLeaf } from "../../protocol/chain/actions/availability.js";
import { finalizeJobs } from "../../protocol/chain/actions/finalizeJobs.js";
import { readAssignment } from "../../protocol/chain/actions/audits.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { auditManagerAbi, jobEscrowAbi, traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import { JobStatus, jobStatusName } from "../../protocol/chain/contracts.js";
import { Phase } from "../../protocol/dispute/agent.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { openDispute } from "../../protocol/game/send-move.js";
import { locate } from "./cheats.js";
import { answerFrom, boundaryLeaves, viewWithForcedBoundary } from "./attacks-availability.js";
import { blockNumber, collectGas, gameCredits, honestData, jobStatus, openAndCommit, promptOf, type World } from "./env.js";
import { addressOf, auditorOf, commitCorrupted, escrowCredits, fmt, mineBlock, NEW, P, proveCorruption, registerModelCopy, registryCredits, revertOf, revertWith, roleOf, slashOf, type CorruptedJob } from "./incentives-world.js";
import { playDisputes, type DisputeSpec } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

type Forced = { challengeId: Hex; leaves: TraceLeaf[] }[];

/** The auditor, refused boundary `l` off-chain, demands all its rows on-chain (16 leaves a challenge). */
async function forceBoundary(w: World, jobId: bigint, l: number, positions: number): Promise<Forced> {
  const leaves = boundaryLeaves(w, l, positions);
  const out: Forced = [];
  for (let i = 0; i < leaves.length; i += 16) {
    const slice = leaves.slice(i, i + 16);
    out.push({ challengeId: (await challengeAvailability(w.as.verifier, { jobId, leaves: slice })).challengeId, leaves: slice });
  }
  return out;
}

async function answerAll(w: World, job: CorruptedJob, forced: Forced): Promise<void> {
  for (const f of forced) await answerAvailability(w.as.cheater, { challengeId: f.challengeId, leaves: f.leaves, ...answerFrom(job.committed, P, f.leaves) });
}

async function challengeDeadlineOf(w: World, jobId: bigint): Promise<bigint> {
  const c = w.as.governance;
  return (await c.publicClient.readContract({ address: c.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] })).challengeDeadline;
}

/** Warp so that the next transaction is mined just after `t`. */
async function warpPast(w: World, t: bigint): Promise<void> {
  const now = await w.now();
  if (now < t) await w.warp(t - now);
}

/**
 * eject-auditor-by-withholding: the cheater serves its auditor nothing on three jobs in a row
 * (maxMisses = 3), answers the auditor's availability challenge (the probe leaf) only after the
 * audit deadline so it cannot report, and records the misses itself, hoping to eject the
 * model's only auditor (whose jobs would then go unaudited). Rule: an auditor that challenged
 * availability is excused (AuditManager._miss, `challenged`) — without it the auditor would be
 * ejected and lose its unclaimed pay.
 */
export async function ejectAuditorByWithholding(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const verifier = addressOf(w, "verifier");
  const before = await auditorOf(w, verifier);
  const recorded: string[] = [];
  for (let i = 0; i < 3; i++) {
    const prompt = promptOf(90 + i, P);
    const data = honestData(w, prompt, NEW);
    const jobId = await openAndCommit(w, { prover: "cheater", prompt, data });
    await mineBlock(w);
    const a = await readAssignment(w.as.governance, jobId);
    const leaves = [{ tensor: a.probe.boundary, row: a.probe.row, chunk: a.probe.chunk }];
    const { challengeId } = await challengeAvailability(w.as.verifier, { jobId, leaves });
    await warpPast(w, a.deadline + 1n);
    await answerAvailability(w.as.cheater, { challengeId, leaves, ...answerFrom(data, P, leaves) });
    const miss = await revertOf(() => sendContractTransaction(w.as.cheater, { address: w.as.cheater.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "recordMiss", args: [jobId], what: "record a miss" }));
    recorded.push(miss ?? "recorded");
  }
  const after = await auditorOf(w, verifier);
  await collectGas(w, ledger, from);
  return ledger.row("eject-auditor-by-withholding", {
    cheaterWon: after.misses > before.misses || after.ejectedBlock !== 0,
    honestLost: after.ejectedBlock !== 0,
    outcome: `3 withheld jobs answered after the audit deadline, misses recorded (${recorded.join(", ")}): the auditor's count ${before.misses} → ${after.misses}, ${after.ejectedBlock === 0 ? "still in the pool" : "EJECTED"}`,
  });
}

/** The last second at which the prover can still answer every forced challenge (a few seconds' margin). */
async function lastAnswerTime(w: World, forced: Forced): Promise<bigint> {
  const c = w.as.governance;
  let last = 2n ** 64n;
  for (const f of forced) {
    const ch = await c.publicClient.readContract({ address: c.deployment.contracts.traceAvailability, abi: traceAvailabilityAbi, functionName: "getChallenge", args: [f.challengeId] });
    if (ch.deadline < last) last = ch.deadline;
  }
  return last - 5n;
}

/**
 * The auditor's side once the forced rows are on-chain: rebuild boundary 2, locate the fraud and
 * open a dispute if the rules still let it (the revert's name otherwise).
 */
async function auditorDisputes(w: World, job: CorruptedJob): Promise<{ view: DisputeData; step: { position: number; layer: number }; opened?: Hex; refused?: string }> {
  const view = await viewWithForcedBoundary(w, job.committed, job.jobId, 2);
  const step = locate(view, { inputTokens: P, samplingParams: 0n });
  if (!step) throw new Error(`job ${job.jobId}: the forced rows show no provable step`);
  const r = await revertWith(() => openDispute(w.as.verifier, { jobId: job.jobId, ...step }));
  return { view, step, ...(r.value ? { opened: r.value } : {}), ...(r.name ? { refused: r.name } : {}) };
}

const phaseName = (phase: number | undefined): string => (phase === Phase.ChallengerWon ? "proved" : phase === Phase.Cancelled ? "cancelled after the slash" : `phase ${phase}`);

const auditorSpec = (job: CorruptedJob, a: { view: DisputeData; step: { position: number; layer: number }; opened?: Hex }): DisputeSpec => ({
  jobId: job.jobId,
  ...a.step,
  ...(a.opened ? { opened: a.opened } : {}),
  prover: { role: "cheater", disk: () => ({ data: job.committed }) },
  challenger: { role: "verifier", data: a.view },
});

/**
 * withhold-from-auditor — found open by this row, now closed: the cheater corrupts h[3][2]
 * and serves its auditor nothing of boundary 2 (the head step alone needs it). The auditor
 * forces all its rows on-chain within its priority, as §8.1 says works at this size; the cheater
 * answers as late as its answer windows allow — with the defaults (answer window = challenge
 * window) after the job's challenge deadline. The auditor then holds the rows and locates the
 * fraud, but (before the fix) no dispute could open any more (ChallengeWindowClosed); the job
 * settled and the cheater was paid. Rule: an answer to the auditor's early challenge extends its
 * deadline and the job's challenge window by an audit period (AuditManager.onAvailabilityResolved,
 * JobEscrow.onDisputeResolved); under it the auditor proves the fraud here.
 */
export async function withholdFromAuditor(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 95 });
  await mineBlock(w);
  await w.warp(60n);
  const forced = await forceBoundary(w, job.jobId, 2, job.committed.trace.tokens.length - 1);
  const answeredAt = await lastAnswerTime(w, forced);
  const windowClosed = answeredAt > (await challengeDeadlineOf(w, job.jobId));
  await warpPast(w, answeredAt);
  await answerAll(w, job, forced);
  const a = await auditorDisputes(w, job);
  if (a.opened) await playDisputes(w, [auditorSpec(job, a)]);
  const prover = addressOf(w, "cheater");
  const paidBefore = await escrowCredits(w, prover);
  if ((await jobStatus(w, job.jobId)) === JobStatus.Committed) {
    await warpPast(w, (await challengeDeadlineOf(w, job.jobId)) + 1n);
    await finalizeJobs(w.as.client, [job.jobId]);
  }
  const paid = (await escrowCredits(w, prover)) - paidBefore;
  await collectGas(w, ledger, from);
  const status = await jobStatus(w, job.jobId);
  return ledger.row("withhold-from-auditor", {
    cheaterWon: status !== JobStatus.Slashed,
    honestLost: status === JobStatus.Finalized,
    outcome: `${forced.length} challenges forced boundary 2 in the audit period; answered at their last second, ${windowClosed ? "after" : "before"} the challenge deadline; fraud located at (${a.step.position}, ${a.step.layer}), the auditor's dispute: ${a.refused ?? "opened"}; job ${jobStatusName(status)}${paid > 0n ? `, cheater paid ${fmt(paid)}` : ""}`,
  });
}

/**
 * withhold-then-sybil-first — found open by this row (reward capture), now closed: as above, but the cheater
 * answers just after the auditor's priority ends (or at its answer deadline if that comes
 * first), and its sybil disputes the corrupted step at that moment. The answers resolve the
 * auditor's challenges (so they have no claim), the auditor disputes as soon as it holds the
 * rows, and the cheater lets the sybil prove first: the sybil's is then the earliest dispute
 * unresolved at the slash and took the reward. Rule: the auditor's priority holds while its
 * early challenges are unanswered and for an audit period after (AuditManager.onDisputeOpened,
 * onAvailabilityResolved), so the sybil's dispute reverts AuditorPriority.
 */
export async function withholdThenSybilFirst(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 96 });
  await mineBlock(w);
  await w.warp(60n);
  const forced = await forceBoundary(w, job.jobId, 2, job.committed.trace.tokens.length - 1);
  const priorityEnds = (await readAssignment(w.as.governance, job.jobId)).deadline;
  const lastAnswer = await lastAnswerTime(w, forced);
  const answerAt = lastAnswer < priorityEnds + 1n ? lastAnswer : priorityEnds + 1n;
  await warpPast(w, answerAt);
  const sybil = await revertWith(() => openDispute(w.as.sybil, { jobId: job.jobId, ...job.step }));
  await answerAll(w, job, forced);
  const a = await auditorDisputes(w, job);
  const [sybilCredits, verifierCredits, verifierBonds] = [await registryCredits(w, addressOf(w, "sybil")), await registryCredits(w, addressOf(w, "verifier")), await gameCredits(w, "verifier")];
  // The cheater answers the sybil's dispute at once and stalls the auditor's.
  if (sybil.value) await proveCorruption(w, job, "sybil", sybil.value);
  const [auditorPlay] = a.opened ? await playDisputes(w, [auditorSpec(job, a)]) : [];
  await collectGas(w, ledger, from);
  const s = await slashOf(w, job.jobId);
  const sybilGot = (await registryCredits(w, addressOf(w, "sybil"))) - sybilCredits;
  const verifierGot = (await registryCredits(w, addressOf(w, "verifier"))) - verifierCredits;
  return ledger.row("withhold-then-sybil-first", {
    cheaterWon: sybilGot > 0n || s.slashed === 0n,
    honestLost: verifierGot === 0n || !((await gameCredits(w, "verifier")) > verifierBonds),
    outcome: `answers ${answerAt > priorityEnds ? "after" : "within"} the auditor's priority; the sybil's dispute: ${sybil.name ?? "opened first"}, the auditor's: ${a.refused ?? phaseName(auditorPlay?.phase)}; reward ${fmt(s.reward)} to ${roleOf(w, s.paidTo)}: the cheater lost ${fmt(s.slashed - sybilGot)} of ${fmt(s.slashed)} slashed`,
  });
}

/**
 * silent-auditor-excused — a known residual (§9.7), kept as a row: an auditor that wants its
 * pool seat without work or canary risk (the cheater's sybil, alone in a model's pool) answers
 * each assignment with a one-leaf availability challenge, which the prover answers at once, and
 * then stays silent. A forced assignment is excused rather than counted as a miss — otherwise a
 * prover that withholds from honest auditors could eject them (eject-auditor-by-withholding) —
 * so the sybil is not ejected. What the rules still guarantee, and this row checks: it earns
 * nothing, and it holds volunteers off only until its extended deadline (one audit period after
 * the answer). A colluding auditor is counted in §9.4 as p·(1 − f); this is one more way to be it.
 */
export async function silentAuditorExcused(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const modelId = await registerModelCopy(w, { name: "silent", pool: ["sybil"], provers: ["cheater"], auditRateBps: 10_000 });
  const sybil = addressOf(w, "sybil");
  const before = await auditorOf(w, sybil);
  let volunteerAfter: string | undefined;
  let heldOffBeyond = false;
  for (let i = 0; i < 3; i++) {
    const prompt = promptOf(97 + i, P);
    const data = honestData(w, prompt, NEW);
    const jobId = await openAndCommit(w, { prover: "cheater", prompt, data, modelId });
    await mineBlock(w);
    const a = await readAssignment(w.as.governance, jobId);
    const leaves = [{ tensor: a.probe.boundary, row: a.probe.row, chunk: a.probe.chunk }];
    const { challengeId } = await challengeAvailability(w.as.sybil, { jobId, leaves });
    await answerAvailability(w.as.cheater, { challengeId, leaves, ...answerFrom(data, P, leaves) });
    const extended = (await readAssignment(w.as.governance, jobId)).deadline;
    heldOffBeyond ||= extended > (await w.now()) + 1_800n + 5n;
    await warpPast(w, extended + 1n);
    await sendContractTransaction(w.as.verifier, { address: w.as.verifier.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "recordMiss", args: [jobId], what: "record a miss" });
    // A volunteer may challenge from here on (the prover answers; the job is honest).
    const spot = [{ tensor: 0, row: 0, chunk: 0 }];
    const opened = await revertWith(() => challengeAvailability(w.as.verifier2, { jobId, leaves: spot }));
    volunteerAfter = opened.name;
    if (opened.value) await answerAvailability(w.as.cheater, { challengeId: opened.value.challengeId, leaves: spot, ...answerFrom(data, P, spot) });
  }
  const after = await auditorOf(w, sybil);
  await collectGas(w, ledger, from);
  return ledger.row("silent-auditor-excused", {
    cheaterWon: after.unclaimed > 0n || volunteerAfter === "AuditorPriority" || heldOffBeyond,
    honestLost: false,
    outcome: `known residual: 3 assignments answered only by a one-leaf challenge the prover answered at once, then silence: misses ${before.misses} → ${after.misses} (excused: forced on-chain), ${after.ejectedBlock === 0 ? "not ejected" : "ejected"}; pay earned ${fmt(after.unclaimed)}; a volunteer after the extended deadline: ${volunteerAfter ?? "may open"}`,
  });
}
