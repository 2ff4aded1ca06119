/**
 * Attacks on the step-proof game: whole cheating step roots, single inconsistencies hidden deep
 * in the step with nothing served off-chain, and the cancellation race. The cheater answers
 * every on-chain demand from the step it posted; the honest verifier only has the committed
 * trace and its own recomputation.
 */
import { Phase } from "../../protocol/dispute/agent.js";
import { HEAD_TENSORS, STEP_TENSORS, T } from "../../protocol/evaluator/layout.js";
import type { DisputeData, JobTerms } from "../../protocol/dispute/proofs.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { bumpElement, deepHiding, locate, rowSlack, softmaxShift, type Cheat } from "./cheats.js";
import { blockNumber, collectGas, gameCredits, honestData, jobStatus, openAndCommit, promptOf, type World } from "./env.js";
import { playDispute, playDisputes, type PlayOutcome } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

const P = 2; // prompt tokens
const NEW = 6; // generated tokens: N = 8 positions
const GREEDY: JobTerms = { inputTokens: P, samplingParams: 0n };

/**
 * The verifier finds the step it can prove in what the prover committed (its view: `view`), and
 * plays the dispute with the real agent on both sides (the prover answers from `prover`, serving
 * nothing off-chain). The cheater wins unless the job ends slashed; the verifier loses unless its
 * bond comes back.
 */
export async function disputeAndScore(w: World, attack: string, ledger: Ledger, from: bigint, jobId: bigint, prover: DisputeData, view: DisputeData, job: JobTerms): Promise<AttackRow> {
  const step = locate(view, job);
  if (!step) {
    await collectGas(w, ledger, from);
    return ledger.row(attack, { cheaterWon: true, honestLost: false, outcome: "no step of the committed trace is provable" });
  }
  const before = await gameCredits(w, "verifier");
  const r = await playDispute(w, { jobId, ...step, prover: { role: "cheater", disk: () => ({ data: prover }) }, challenger: { role: "verifier", data: view } });
  await collectGas(w, ledger, from);
  const status = await jobStatus(w, jobId);
  const won = r.phase === Phase.ChallengerWon && status === JobStatus.Slashed;
  return ledger.row(attack, {
    cheaterWon: !won,
    honestLost: (await gameCredits(w, "verifier")) <= before,
    outcome: won ? `slashed: step (${step.position}, ${step.layer}) proven after ${r.moves.length} moves` : `phase ${r.phase}, job ${status}: ${r.moves.join(" ")}`,
  });
}

/** Commit `cheat` as a greedy job of the cheating prover and let the verifier dispute it. */
export async function playCheat(w: World, attack: string, cheat: Cheat | undefined, prompt: readonly number[]): Promise<AttackRow> {
  if (!cheat) throw new Error(`${attack}: the adversary found no commitment to try`);
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: cheat.committed });
  return disputeAndScore(w, attack, ledger, from, jobId, cheat.prover, cheat.committed, GREEDY);
}

export async function softmaxShiftAttacks(w: World): Promise<AttackRow[]> {
  const prompt = promptOf(11, P);
  const base = honestData(w, prompt, NEW);
  return [
    await playCheat(w, "softmax-shift", softmaxShift(base, 5, 1, "first-position"), prompt),
    await playCheat(w, "softmax-shift-bias-all", softmaxShift(base, 6, 2, "uniform"), prompt),
  ];
}

export async function layerOutSlack(w: World): Promise<AttackRow> {
  const prompt = promptOf(12, P);
  return playCheat(w, "layer-out-slack", rowSlack(honestData(w, prompt, NEW), 4, 2), prompt);
}

/** The demo's corruption (+0.5 on one element of h[t][l]) with an honest step root and nothing served. */
export async function stepWithheldAll(w: World): Promise<AttackRow> {
  const prompt = promptOf(13, P);
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  // The cheater's step root is the honest one (X1 + Y_D is the true output): OUT is provable.
  return playCheat(w, "step-withheld-all", { committed, prover: committed }, prompt);
}

/** Every tensor id of the §7.2 layout (M is free: the softmax rows cover it) and of the head step. */
export function deepHidingTargets(): { name: string; layer: "block" | "head"; tensor: number }[] {
  const name = (id: number) => Object.entries(T).find(([, v]) => v === id)![0];
  return [
    ...STEP_TENSORS.filter((id) => id !== T.M && id !== T.OUT_ERR_PART).map((tensor) => ({ name: `deep-hiding-${name(tensor)}`, layer: "block" as const, tensor })),
    { name: "deep-hiding-OUT_ERR_PART", layer: "block" as const, tensor: T.OUT_ERR_PART },
    ...HEAD_TENSORS.map((tensor) => ({ name: `deep-hiding-head-${name(tensor)}`, layer: "head" as const, tensor })),
  ];
}

export async function deepHidingAttack(w: World, target: ReturnType<typeof deepHidingTargets>[number]): Promise<AttackRow> {
  const prompt = promptOf(14, P);
  const base = honestData(w, prompt, NEW);
  const t = 4;
  const layer = target.layer === "head" ? w.model.arch.layers + 1 : 2;
  // The row-error partials feed no output: hiding there is the row-slack cheat with understated partials.
  if (target.tensor === T.OUT_ERR_PART) return playCheat(w, target.name, rowSlack(base, t, layer), prompt);
  // The judge's terms are those of any greedy job.
  const cheat = deepHiding(base, t, layer, target.tensor, GREEDY);
  return playCheat(w, target.name, cheat, prompt);
}

/**
 * cancel-after-slash: two verifiers dispute the same cheating job; once one proof slashes the
 * job, the other dispute (where the cheater posted a root the second verifier cannot refute
 * quickly) must be cancelled with the bond returned, not lost on the cheater's clock.
 */
export async function cancelAfterSlash(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const prompt = promptOf(15, P);
  const base = honestData(w, prompt, NEW);
  const cheat = softmaxShift(base, 5, 1, "first-position")!;
  const from = await blockNumber(w);
  const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: cheat.committed });
  const step = locate(cheat.committed, GREEDY)!;
  const bondBefore = await gameCredits(w, "verifier2");
  // verifier2 disputes a step whose honest root it cannot refute (the first block at position 0,
  // which is correct); the cheater posts that root and plays for verifier2's clock.
  const [first, second] = await playDisputes(w, [
    { jobId, ...step, prover: { role: "cheater", disk: () => ({ data: cheat.prover }) }, challenger: { role: "verifier", data: cheat.committed } },
    { jobId, position: 0, layer: 1, prover: { role: "cheater", disk: () => ({ data: cheat.prover }) }, challenger: { role: "verifier2", data: cheat.committed } },
  ]) as [PlayOutcome, PlayOutcome];
  await collectGas(w, ledger, from);
  const bondBack = (await gameCredits(w, "verifier2")) > bondBefore;
  return ledger.row("cancel-after-slash", {
    cheaterWon: second.phase === Phase.ProverWon,
    honestLost: !bondBack || first.phase !== Phase.ChallengerWon,
    outcome: `first dispute phase ${first.phase}; second ${second.phase === Phase.Cancelled ? "cancelled, bond returned" : `phase ${second.phase}`} (${second.moves.join(" ")})`,
  });
}

