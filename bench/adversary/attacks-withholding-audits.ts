/**
 * A cheater that withholds its trace from its auditor (PROTOCOL §9.1 "Not served the trace",
 * §8.1): the auditor forces the rows it needs on-chain with availability challenges, and the
 * cheater times its answers — after the audit deadline, to have misses counted against the
 * auditor; after the auditor's priority, so that its sybil disputes first; after the challenge
 * window, so that nobody can dispute at all.
 */
import { answerAvailability, challengeAvailability, type TraceLeaf } from "../../protocol/chain/actions/availability.js";
import { finalizeJobs } from "../../protocol/chain/actions/finalizeJobs.js";
import { readAssignment } from "../../protocol/chain/actions/audits.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { auditManagerAbi, jobEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { JobStatus, jobStatusName } from "../../protocol/chain/contracts.js";
import { Phase } from "../../protocol/dispute/agent.js";
import { openDispute } from "../../protocol/game/send-move.js";
import { locate } from "./cheats.js";
import { answerFrom, boundaryLeaves, viewWithForcedBoundary } from "./attacks-availability.js";
import { blockNumber, collectGas, gameCredits, honestData, jobStatus, openAndCommit, promptOf, type World } from "./env.js";
import { addressOf, auditorOf, commitCorrupted, escrowCredits, fmt, mineBlock, NEW, P, proveCorruption, registerModelCopy, registryCredits, revertOf, roleOf, slashOf, type CorruptedJob } from "./incentives-world.js";
import { playDisputes } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

type Forced = { challengeId: `0x${string}`; leaves: TraceLeaf[] }[];

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

/**
 * withhold-from-auditor — a REAL HOLE (reported, not fixed here): the cheater corrupts h[3][2]
 * and serves its auditor nothing of boundary 2 (the head step alone needs it). The auditor
 * forces all its rows on-chain within its priority, as §8.1 says works at this size; the cheater
 * answers every challenge after the job's challenge deadline, which each answer window (opened
 * before it) still allows. The auditor then holds the rows and locates the fraud, but no
 * dispute can open any more (ChallengeWindowClosed); the job settles and the cheater is paid.
 * Rule it shows missing: answers that come after the challenge window must give challengers
 * time to dispute what they reveal.
 */
export async function withholdFromAuditor(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 95 });
  await mineBlock(w);
  await w.warp(60n);
  const forced = await forceBoundary(w, job.jobId, 2, job.committed.trace.tokens.length - 1);
  await warpPast(w, await challengeDeadlineOf(w, job.jobId));
  await answerAll(w, job, forced);
  const view = await viewWithForcedBoundary(w, job.committed, job.jobId, 2);
  const step = locate(view, { inputTokens: P, samplingParams: 0n, jobId: job.jobId });
  const dispute = step ? await revertOf(() => openDispute(w.as.verifier, { jobId: job.jobId, ...step })) : "nothing located";
  const prover = addressOf(w, "cheater");
  const paidBefore = await escrowCredits(w, prover);
  await finalizeJobs(w.as.client, [job.jobId]);
  const paid = (await escrowCredits(w, prover)) - paidBefore;
  await collectGas(w, ledger, from);
  const status = await jobStatus(w, job.jobId);
  return ledger.row("withhold-from-auditor", {
    cheaterWon: status !== JobStatus.Slashed,
    honestLost: status === JobStatus.Finalized,
    outcome: `${forced.length} challenges forced boundary 2 within the audit period; answered after the challenge deadline; fraud located at (${step?.position}, ${step?.layer}) but the dispute: ${dispute ?? "opened"}; job ${jobStatusName(status)}, cheater paid ${fmt(paid)}`,
  });
}

/**
 * withhold-then-sybil-first — a REAL HOLE (reward capture, reported): as above, but the cheater
 * answers just after the auditor's priority ends (within the challenge window). Its sybil opens a
 * dispute on the corrupted step first, the answers resolve the auditor's challenges (so they
 * have no claim), the auditor disputes as soon as it has the rows, and the cheater lets the
 * sybil prove first: the sybil's is the earliest dispute unresolved at the slash and takes the
 * reward. Rule it shows missing: the auditor's priority must outlast the answers to its
 * challenges (§9.5 claims the auditor's dispute is always the earliest on an audited job).
 */
export async function withholdThenSybilFirst(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 96 });
  await mineBlock(w);
  await w.warp(60n);
  const forced = await forceBoundary(w, job.jobId, 2, job.committed.trace.tokens.length - 1);
  const a = await readAssignment(w.as.governance, job.jobId);
  await warpPast(w, a.deadline + 1n);
  const sybilDispute = await openDispute(w.as.sybil, { jobId: job.jobId, ...job.step });
  await answerAll(w, job, forced);
  const view = await viewWithForcedBoundary(w, job.committed, job.jobId, 2);
  const step = locate(view, { inputTokens: P, samplingParams: 0n, jobId: job.jobId })!;
  const auditorDispute = await openDispute(w.as.verifier, { jobId: job.jobId, ...step });
  const [sybilCredits, verifierCredits, verifierBonds] = [await registryCredits(w, addressOf(w, "sybil")), await registryCredits(w, addressOf(w, "verifier")), await gameCredits(w, "verifier")];
  // The cheater answers the sybil's dispute at once and stalls the auditor's.
  const sybilPlay = await proveCorruption(w, job, "sybil", sybilDispute);
  const [auditorPlay] = await playDisputes(w, [{ jobId: job.jobId, ...step, opened: auditorDispute, prover: { role: "cheater", disk: () => ({ data: job.committed }) }, challenger: { role: "verifier", data: view } }]);
  await collectGas(w, ledger, from);
  const s = await slashOf(w, job.jobId);
  const sybilGot = (await registryCredits(w, addressOf(w, "sybil"))) - sybilCredits;
  const verifierGot = (await registryCredits(w, addressOf(w, "verifier"))) - verifierCredits;
  return ledger.row("withhold-then-sybil-first", {
    cheaterWon: sybilGot > 0n,
    honestLost: verifierGot === 0n || !((await gameCredits(w, "verifier")) > verifierBonds),
    outcome: `answers after the audit deadline; sybil disputed first (${sybilPlay.phase === Phase.ChallengerWon ? "proved" : `phase ${sybilPlay.phase}`}), auditor's dispute ${auditorPlay!.phase === Phase.Cancelled ? "cancelled" : `phase ${auditorPlay!.phase}`}; reward ${fmt(s.reward)} to ${roleOf(w, s.paidTo)}: the cheater lost ${fmt(s.slashed - sybilGot)} of ${fmt(s.slashed)} slashed`,
  });
}

/**
 * silent-auditor-excused — a REAL HOLE (reported): an auditor that wants its pool seat without
 * work or canary risk (the cheater's sybil, alone in a model's pool) answers each assignment
 * with a one-leaf availability challenge, which the prover answers at once, and then stays
 * silent: no report, no dispute. After `maxMisses` such assignments it is neither ejected nor
 * exposed (canaries only catch approvals). Rule it shows missing: a challenge answered before
 * the audit deadline should not excuse the miss (AuditManager._miss, `challenged`).
 */
export async function silentAuditorExcused(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const modelId = await registerModelCopy(w, { name: "silent", pool: ["sybil"], provers: ["cheater"], auditRateBps: 10_000 });
  const sybil = addressOf(w, "sybil");
  const before = await auditorOf(w, sybil);
  for (let i = 0; i < 3; i++) {
    const prompt = promptOf(97 + i, P);
    const data = honestData(w, prompt, NEW);
    const jobId = await openAndCommit(w, { prover: "cheater", prompt, data, modelId });
    await mineBlock(w);
    const a = await readAssignment(w.as.governance, jobId);
    const leaves = [{ tensor: a.probe.boundary, row: a.probe.row, chunk: a.probe.chunk }];
    const { challengeId } = await challengeAvailability(w.as.sybil, { jobId, leaves });
    await answerAvailability(w.as.cheater, { challengeId, leaves, ...answerFrom(data, P, leaves) });
    await warpPast(w, a.deadline + 1n);
    await sendContractTransaction(w.as.verifier, { address: w.as.verifier.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "recordMiss", args: [jobId], what: "record a miss" });
  }
  const after = await auditorOf(w, sybil);
  await collectGas(w, ledger, from);
  return ledger.row("silent-auditor-excused", {
    cheaterWon: after.ejectedBlock === 0,
    honestLost: false,
    outcome: `3 assignments answered only by a one-leaf challenge the prover answered at once, then silence: misses ${before.misses} → ${after.misses}, ${after.ejectedBlock === 0 ? "not ejected" : "ejected"}`,
  });
}
