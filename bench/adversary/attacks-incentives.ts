/**
 * Attacks on who is rewarded for a fraud (PROTOCOL §9.1 priority, §9.5 rewards): the cheater's
 * own sybil tries to capture the slash reward — by opening after the auditor and being proven
 * first, by opening before the auditor, by opening in the commit block itself — and the known
 * residual on unaudited jobs, where a placeholder dispute does capture it. Each row names the
 * rule that stops it; with that rule removed the attack would pay the sybil.
 */
import { decodeErrorResult, maxUint256, zeroAddress, type Hex } from "viem";
import { AuditState, fixDraw, readAssignment } from "../../protocol/chain/actions/audits.js";
import { challengeAvailability } from "../../protocol/chain/actions/availability.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { auditManagerAbi, jobEscrowAbi, stepProofGameAbi, testTokenAbi, traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { nextMove, Phase } from "../../protocol/dispute/agent.js";
import { readChainDispute } from "../../protocol/game/chain-dispute.js";
import { openDispute, sendMove } from "../../protocol/game/send-move.js";
import { bumpElement } from "./cheats.js";
import { afterAuditPriority, blockNumber, collectGas, gameCredits, honestData, jobStatus, openAndCommit, openFor, promptOf, type World } from "./env.js";
import { addressOf, commitCorrupted, fmt, mineBlock, NEW, nodeOf, P, proveCorruption, registerModelCopy, registryCredits, revertOf, roleOf, slashOf, testClient, type CorruptedJob } from "./incentives-world.js";
import { Ledger, type AttackRow } from "./report.js";

/**
 * sybil-reward-capture (the scheme of issue #9): the auditor disputes the fraud; the cheater's
 * sybil disputes the same step after it, and the cheater answers the sybil at once (its own
 * step root, which the sybil proves) while holding back on the auditor's dispute, so the sybil
 * proves first. Rule under attack: the reward goes to the earliest-opened dispute unresolved at
 * the slash (JobEscrow.onDisputeResolved, §9.5); paid to the first prover it would go to the sybil.
 */
export async function sybilRewardCapture(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 61 });
  await afterAuditPriority(w, job.jobId, "verifier");
  const auditorDispute = await openDispute(w.as.verifier, { jobId: job.jobId, ...job.step });
  const sybil = addressOf(w, "sybil");
  const [sybilCredits, sybilBonds, verifierCredits, verifierBonds] = [await registryCredits(w, sybil), await gameCredits(w, "sybil"), await registryCredits(w, addressOf(w, "verifier")), await gameCredits(w, "verifier")];
  // The sybil's dispute is played alone: the cheater posts its root there at once and the sybil
  // proves it, while the auditor's dispute still waits for the cheater's root.
  const sybilPlay = await proveCorruption(w, job, "sybil");
  // Then the auditor's node finds the job slashed and cancels its own dispute (bond back).
  const auditorPlay = await proveCorruption(w, job, "verifier", auditorDispute);
  await collectGas(w, ledger, from);
  const s = await slashOf(w, job.jobId);
  const sybilGot = (await registryCredits(w, sybil)) - sybilCredits;
  const verifierGot = (await registryCredits(w, addressOf(w, "verifier"))) - verifierCredits;
  const sybilBondBack = (await gameCredits(w, "sybil")) > sybilBonds;
  const verifierBondBack = (await gameCredits(w, "verifier")) > verifierBonds;
  return ledger.row("sybil-reward-capture", {
    cheaterWon: sybilGot > 0n || s.paidTo?.toLowerCase() === sybil.toLowerCase(),
    honestLost: verifierGot !== s.reward || s.reward === 0n || !verifierBondBack,
    outcome: `sybil proved first (${sybilPlay.phase === Phase.ChallengerWon ? "won" : `phase ${sybilPlay.phase}`}), auditor's dispute ${auditorPlay.phase === Phase.Cancelled ? "cancelled" : `phase ${auditorPlay.phase}`}; reward ${fmt(s.reward)} paid to ${roleOf(w, s.paidTo)} (seq ${s.paidSeq}, earliest opened); sybil: bond ${sybilBondBack ? "back" : "lost"}, reward ${fmt(sybilGot)}`,
  });
}

/**
 * sybil-first-on-audited-job: the sybil opens a step dispute and an availability challenge on an
 * audited job before its auditor, inside the audit period; the cheater then tries to count a
 * miss against the auditor that disputed. Rules: AuditorPriority (AuditManager.onDisputeOpened,
 * §9.1) — without it the sybil's dispute would be the earliest and take the reward — and
 * recordMiss only on an unanswered assignment.
 */
export async function sybilFirstOnAuditedJob(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const job = await commitCorrupted(w, { seed: 62 });
  await mineBlock(w);
  const dispute = await revertOf(() => openDispute(w.as.sybil, { jobId: job.jobId, ...job.step }));
  const challenge = await revertOf(() => challengeAvailability(w.as.sybil, { jobId: job.jobId, leaves: [{ tensor: 2, row: 3, chunk: 1 }] }));
  const verifierBonds = await gameCredits(w, "verifier");
  const played = await proveCorruption(w, job, "verifier");
  const a = await readAssignment(w.as.governance, job.jobId);
  await w.warp(a.deadline - (await w.now()) + 1n);
  const miss = await revertOf(() => sendContractTransaction(w.as.cheater, { address: w.as.cheater.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "recordMiss", args: [job.jobId], what: "record a miss" }));
  await collectGas(w, ledger, from);
  const s = await slashOf(w, job.jobId);
  const toAuditor = s.paidTo?.toLowerCase() === addressOf(w, "verifier").toLowerCase();
  return ledger.row("sybil-first-on-audited-job", {
    cheaterWon: dispute !== "AuditorPriority" || challenge !== "AuditorPriority" || miss !== "WrongAuditState",
    honestLost: played.phase !== Phase.ChallengerWon || !toAuditor || !((await gameCredits(w, "verifier")) > verifierBonds),
    outcome: `sybil's dispute: ${dispute ?? "opened"}, its availability challenge: ${challenge ?? "opened"}; the auditor proved the fraud, reward ${fmt(s.reward)} to ${roleOf(w, s.paidTo)}; recordMiss on the disputed audit: ${miss ?? "recorded"}`,
  });
}

/** The revert data of a mined, failed transaction (EDR's debug_traceTransaction), decoded against the AuditManager. */
async function revertNameOf(w: World, hash: Hex): Promise<string> {
  const trace = (await w.as.governance.publicClient.request({ method: "debug_traceTransaction" as never, params: [hash, { disableStorage: true, disableMemory: true, disableStack: true }] as never })) as { failed?: boolean; returnValue?: string };
  const data = `0x${(trace.returnValue ?? "").replace(/^0x/, "")}` as Hex;
  try {
    return decodeErrorResult({ abi: auditManagerAbi, data }).errorName;
  } catch {
    return trace.failed ? `reverted (${data.slice(0, 10)})` : "succeeded";
  }
}

/**
 * dispute-in-commit-block: the sybil's dispute and availability challenge are mined in the same
 * block as the cheater's commitment, before anyone can know the draw. Rule: DrawNotReady
 * (§9.1) — without it the draw would be fixed from an unavailable block hash (Lapsed, so no
 * priority) and the sybil's would be the earliest dispute of the job.
 */
export async function disputeInCommitBlock(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(63, P);
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  const jobId = await openFor(w, { prover: "cheater", prompt, maxOutputTokens: NEW });
  const { stepProofGame, traceAvailability, token, jobEscrow } = w.as.sybil.deployment.contracts;
  for (const spender of [stepProofGame, traceAvailability]) await sendContractTransaction(w.as.sybil, { address: token, abi: testTokenAbi, functionName: "approve", args: [spender, maxUint256], what: "approve" });
  const test = testClient(w);
  const fees = { maxFeePerGas: 100_000_000_000n };
  await test.setAutomine(false);
  let hashes: { commit: Hex; dispute: Hex; challenge: Hex };
  try {
    // Sent without simulation (it would run against the block before the commit); the
    // commitment pays a higher tip so it is ordered first in the block.
    const commit = await w.as.cheater.walletClient!.writeContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "commitResult", args: [jobId, committed.traceTree.root, tokenRoot(committed.trace.tokens.slice(P), P), NEW], gas: 600_000n, ...fees, maxPriorityFeePerGas: 2_000_000_000n });
    const dispute = await w.as.sybil.walletClient!.writeContract({ address: stepProofGame, abi: stepProofGameAbi, functionName: "openDispute", args: [jobId, 3, 2], gas: 1_000_000n, ...fees, maxPriorityFeePerGas: 1_000_000_000n });
    const challenge = await w.as.sybil.walletClient!.writeContract({ address: traceAvailability, abi: traceAvailabilityAbi, functionName: "challenge", args: [jobId, [{ tensor: 2n, row: 3n, chunk: 1n }]], gas: 1_000_000n, ...fees, maxPriorityFeePerGas: 1_000_000_000n });
    hashes = { commit, dispute, challenge };
    await test.mine({ blocks: 1 });
  } finally {
    await test.setAutomine(true);
  }
  const pc = w.as.governance.publicClient;
  const [rc, rd, ra] = [await pc.getTransactionReceipt({ hash: hashes.commit }), await pc.getTransactionReceipt({ hash: hashes.dispute }), await pc.getTransactionReceipt({ hash: hashes.challenge })];
  const sameBlock = rc.blockNumber === rd.blockNumber && rd.blockNumber === ra.blockNumber;
  const [disputeWhy, challengeWhy] = [rd.status === "reverted" ? await revertNameOf(w, hashes.dispute) : "opened", ra.status === "reverted" ? await revertNameOf(w, hashes.challenge) : "opened"];
  await mineBlock(w);
  const next = await readAssignment(w.as.governance, jobId);
  await collectGas(w, ledger, from);
  return ledger.row("dispute-in-commit-block", {
    cheaterWon: rc.status !== "success" || !sameBlock || disputeWhy !== "DrawNotReady" || challengeWhy !== "DrawNotReady",
    honestLost: false,
    outcome: `commit, sybil dispute and challenge in block ${rc.blockNumber}${sameBlock ? "" : " (not the same block)"}: dispute ${disputeWhy}, challenge ${challengeWhy}; next block the draw is ${next.state === AuditState.Assigned ? `known (auditor ${roleOf(w, next.auditor)})` : `state ${next.state}`}`,
  });
}

/**
 * placeholder-dispute — a documented residual (§9.5), not a win: on an UNAUDITED job there is no
 * auditor priority, so the cheater's sybil opens a placeholder dispute on an honest step right
 * after the commit (the cheater posts the honest root and the dispute lives on the sybil's
 * clock); a volunteer later proves the fraud and the earliest-opened rule pays the sybil. The
 * row fails only if the cheater came out even: it must still lose `slashed − reward`, and §9.4
 * counts audits only, where priority forbids this.
 */
export async function placeholderDispute(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  // A model at the protocol's default audit rate (10 %), audited by verifier2 when drawn.
  const modelId = await registerModelCopy(w, { name: "default-rate", pool: ["verifier2"], provers: ["cheater"] });
  // The cheater commits until a job is drawn unaudited (nine in ten are); an audited one is
  // left to its auditor.
  let job: CorruptedJob | undefined;
  let tries = 0;
  while (!job) {
    if (tries === 10) throw new Error("placeholder-dispute: ten audited draws in a row at a 10 % rate");
    const j = await commitCorrupted(w, { seed: 64 + tries++, modelId });
    await mineBlock(w);
    if ((await readAssignment(w.as.governance, j.jobId)).state === AuditState.Unaudited) job = j;
  }
  const placeholder = await openDispute(w.as.sybil, { jobId: job.jobId, position: 0, layer: 1 });
  const root = nextMove("prover", await readChainDispute(w.as.cheater, placeholder), { data: job.committed });
  if (root) await sendMove(w.as.cheater, root);
  const cheaterStake = (await nodeOf(w, addressOf(w, "cheater"))).stake;
  const [sybilCredits, volunteerBonds] = [await registryCredits(w, addressOf(w, "sybil")), await gameCredits(w, "verifier2")];
  const proof = await proveCorruption(w, job, "verifier2");
  // Anyone closes the placeholder once the job is slashed: the held reward is paid out.
  const close = nextMove("challenger", await readChainDispute(w.as.sybil, placeholder), { data: job.committed });
  if (close) await sendMove(w.as.sybil, close);
  await collectGas(w, ledger, from);
  const s = await slashOf(w, job.jobId);
  const sybilGot = (await registryCredits(w, addressOf(w, "sybil"))) - sybilCredits;
  const netLoss = s.slashed - sybilGot;
  return ledger.row("placeholder-dispute", {
    cheaterWon: netLoss <= 0n || (await jobStatus(w, job.jobId)) !== JobStatus.Slashed,
    honestLost: proof.phase !== Phase.ChallengerWon || !((await gameCredits(w, "verifier2")) > volunteerBonds),
    outcome: `residual (§9.5), unaudited job (draw ${tries}): the sybil's placeholder (seq 1) took the reward ${fmt(sybilGot)}; the prover still lost slashed − reward = ${fmt(netLoss)} of ${fmt(cheaterStake)} staked; §9.4 counts audits only, where auditor priority forbids this`,
  });
}

/**
 * fix-or-lapse-the-draw: the cheater's sybil fixes the draw of an audited job itself in the
 * first block it can (hoping for another outcome), then waits until the seed block's hash has
 * left the 256-block window and challenges before the auditor. Rules: the draw is a pure
 * function of the seed, stored at the first fix (AuditManager._fix), so it neither changes nor
 * lapses once fixed — without the stored draw it would lapse and lift the auditor's priority.
 * The residual (§9.7) is shown beside it: a draw NOBODY fixes within 256 blocks does lapse.
 */
export async function fixOrLapseTheDraw(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const gov = w.as.governance;
  const fixedJob = await openAndCommit(w, { prover: "cheater", prompt: promptOf(67, P), data: honestData(w, promptOf(67, P), NEW) });
  await mineBlock(w);
  const view = await readAssignment(gov, fixedJob);
  await fixDraw(w.as.sybil, fixedJob);
  const unfixedJob = await openAndCommit(w, { prover: "cheater", prompt: promptOf(68, P), data: honestData(w, promptOf(68, P), NEW) });
  await testClient(w).mine({ blocks: 257 });
  const fixed = await readAssignment(gov, fixedJob);
  const challenge = await revertOf(() => challengeAvailability(w.as.sybil, { jobId: fixedJob, leaves: [{ tensor: 1, row: 0, chunk: 0 }] }));
  const lapsed = await readAssignment(gov, unfixedJob);
  await collectGas(w, ledger, from);
  return ledger.row("fix-or-lapse-the-draw", {
    cheaterWon: fixed.auditor !== view.auditor || fixed.state !== AuditState.Assigned || challenge !== "AuditorPriority",
    honestLost: false,
    outcome: `the sybil's own fix gave the view's auditor (${roleOf(w, fixed.auditor)}); 257 blocks later still Assigned, the sybil's challenge: ${challenge ?? "opened"}; residual: an unfixed draw is then ${lapsed.state === AuditState.Pending && lapsed.auditor === zeroAddress ? "past its seed (lapses when touched, §9.7)" : `state ${lapsed.state}`}`,
  });
}
