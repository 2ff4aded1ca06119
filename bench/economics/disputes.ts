/**
 * Disputes, slashes and rewards in the simulation (PROTOCOL §9.4–§9.5): finders (the auditor, a
 * volunteer) open disputes on what they found and a cheater stalls its whole clock before the
 * slash; the sybil-assisted cheater's sybil opens placeholders and late disputes; the reward
 * goes to the earliest-opened dispute unresolved at the slash (`slashRewardRecipient`), and the
 * old first-resolved rule is tallied beside it for comparison.
 */
import { fraudSlash, slashRewardRecipient } from "../../protocol/incentives/index.js";
import type { Dispute, Job, VerifierIdentity } from "./agents.js";
import { detects } from "./audits.js";
import type { World } from "./world.js";

/**
 * At commit of a cheating job: the chance it is caught — by the audit (ρ × share of eligible
 * auditors that check × coverage) or else by a volunteer — and of a volunteer catch the sybil's
 * placeholder would take the reward of. The loss is priced later (`priceCheatLoss`).
 */
export function expectCheatLoss(w: World, job: Job): void {
  const p = job.prover!;
  const eligible = w.eligibleAt(w.now);
  const checkers = eligible.filter((m) => m.operator.strategy === "honest" || (m.operator.strategy === "colluding" && m.operator.partner !== p)).length;
  const q = job.head ? 1 : w.coverage;
  const byAudit = eligible.length === 0 ? 0 : (w.rho * checkers * q) / eligible.length;
  const byVolunteer = (1 - byAudit) * w.a.volunteerShare * q;
  job.catchChance = { byAudit, byVolunteer, slashAtCommit: fraudSlash(w.params, p.stake, w.collateral) };
  // Priced at the window's end, with every slash that landed by then: a prover with many cheats in
  // flight loses s of a smaller stake at its later catches, which pricing at commit would overstate.
  w.queue.push(w.now + w.params.challengeWindow, { kind: "priceCheat", job });
}

/**
 * P(caught) × (slash + forfeited pay) with the prover's stake as it stands, and the sybil's
 * expected capture: summed over a prover's cheating jobs, a low-variance estimate of its loss
 * beside the realized one (exact for a lone cheat; slashes landing after this point are missed).
 */
export function priceCheatLoss(w: World, job: Job): void {
  const c = job.catchChance!;
  const p = job.prover!;
  const s = job.status === "committed" ? fraudSlash(w.params, p.stake, w.collateral) : c.slashAtCommit;
  const caught = c.byAudit + c.byVolunteer;
  p.ledger.expectedSlash += caught * Number(s.slashed);
  p.ledger.expectedLoss += caught * Number(s.slashed + job.quote.proverPaid);
  if (p.strategy.sybil) p.ledger.expectedCaptured += c.byVolunteer * Number(s.reward);
}

/** A finder opens a dispute on fraud it found; the cheater stalls for its whole clock (a canary prover answers at once). */
export function openFinderDispute(w: World, job: Job, by: "auditor" | "volunteer", auditor?: VerifierIdentity): void {
  const seq = job.disputes.length + 1;
  job.disputes.push({ seq, by, ...(auditor ? { auditor } : {}), placeholder: false, resolved: false });
  const delay = job.canary ? w.a.timing.canaryResolveSeconds : w.params.proverClock;
  w.queue.push(w.now + delay, { kind: "resolve", job, seq });
}

/** A volunteer re-executes k boundaries of a job nobody has priority on any more, and disputes what it finds. */
export function volunteerCheck(w: World, job: Job): void {
  // A real finder's dispute is already open: a later one cannot win the reward.
  if (job.status !== "committed" || job.disputes.some((d) => d.by !== "sybil")) return;
  const v = w.volunteer;
  v.checks++;
  v.compute += w.auditCompute(job.quote.cost);
  if (!detects(w, job)) return;
  v.disputes++;
  v.gas += w.gasCost(w.a.gas.dispute);
  openFinderDispute(w, job, "volunteer");
}

/**
 * The sybil's move as soon as it may open (§9.5): after an honest auditor's dispute, a late
 * dispute its prover lets win first (a malformed root); otherwise a placeholder kept open to
 * the window's end, to be the earliest dispute if a volunteer later proves the fraud.
 */
export function openPlaceholder(w: World, job: Job): void {
  if (job.status !== "committed") return;
  const p = job.prover!;
  p.ledger.sybilGas += w.gasCost(w.a.gas.placeholder);
  const seq = job.disputes.length + 1;
  const late = job.auditState === "disputed";
  job.disputes.push({ seq, by: "sybil", placeholder: !late, resolved: false });
  if (late) w.queue.push(w.now + 60, { kind: "resolve", job, seq });
  else w.queue.push(job.committedAt + w.params.challengeWindow + 60, { kind: "closePlaceholder", job });
}

/** The placeholder times out (its bond goes to the prover, the same coalition) unless a finder's dispute is still pending. */
export function closePlaceholder(w: World, job: Job): void {
  if (job.status === "committed" && job.disputes.some((d) => !d.resolved && d.by !== "sybil")) {
    w.queue.push(w.now + 600, { kind: "closePlaceholder", job });
    return;
  }
  for (const d of job.disputes) if (d.placeholder) d.resolved = true;
  if (job.settleDue) w.settle(job);
}

/** Dispute `seq` proves fraud: the first slashes the job; later ones are cancelled after the slash. */
export function resolveDispute(w: World, job: Job, seq: number): void {
  const d = job.disputes[seq - 1]!;
  if (d.resolved) return;
  if (job.status !== "committed") {
    d.resolved = true;
    return;
  }
  slash(w, job, d);
}

/** _slashForFraud: collateral + s of free and unbonding stake, jail, client refunded, reward to the earliest open dispute. */
function slash(w: World, job: Job, slashing: Dispute): void {
  job.status = "slashed";
  const earliest = slashRewardRecipient(job.disputes.map((d) => ({ seq: d.seq, challenger: d.by, resolvedBeforeSlash: d.resolved })))!;
  const recipient = job.disputes[earliest.seq - 1]!;
  slashing.resolved = true;
  if (job.canary) {
    const s = fraudSlash(w.params, w.canaryProverStake, w.collateral);
    w.treasury.canaryRewards += s.reward;
    w.treasury.canariesCaught++;
    credit(w, job, recipient, s.reward);
    return;
  }
  const p = job.prover!;
  const s = fraudSlash(w.params, p.stake, w.collateral);
  p.stake = s.after;
  p.exposure -= w.escrowed;
  p.jailedUntil = Math.max(p.jailedUntil, w.now + w.params.jailPeriod);
  p.ledger.slashed += s.slashed;
  p.ledger.caught++;
  w.treasury.fraudSlashShare += s.treasury;
  w.client.refundedFraud++;
  credit(w, job, recipient, s.reward);
  // Under the old rule the first-resolved dispute took the reward: the sybil's late dispute, or its placeholder proven at once.
  if (slashing.by === "sybil" || recipient.by === "sybil") p.ledger.rewardsCapturedOldRule += s.reward;
}

function credit(w: World, job: Job, to: Dispute, reward: bigint): void {
  if (to.by === "sybil") job.prover!.ledger.rewardsCaptured += reward;
  else if (to.by === "volunteer") w.volunteer.rewards += reward;
  else if (job.canary) to.auditor!.operator.ledger.canaryRewards += reward;
  else to.auditor!.operator.ledger.fraudRewards += reward;
}
