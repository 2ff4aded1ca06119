/**
 * Attacks on what the client asked and received: a correct trace of another prompt, token
 * counts the trace does not hold, an output of the prover's choosing (greedy and sampled), and
 * clients abusing prompt publication against an honest prover.
 */
import { JobStatus } from "../../protocol/chain/contracts.js";
import { declineJob } from "../../protocol/chain/actions/declineJob.js";
import { publishPrompt } from "../../protocol/chain/actions/publishPrompt.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import { generateSampled, generateTrace } from "../../protocol/dispute/forward.js";
import { encodeSamplingParams } from "../../protocol/sampling/rule.js";
import { TOKEN_TENSOR_ID } from "../../protocol/evaluator/layout.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { availabilityRound } from "./attacks-availability.js";
import { disputeAndScore } from "./attacks-step.js";
import { blockNumber, collectGas, commitFor, honestData, jobStatus, openFor, promptOf, stakeOf, withTrace, type World } from "./env.js";
import { Ledger, type AttackRow } from "./report.js";

const P = 3;
const NEW = 5;

/**
 * The verifier's view: tokens as the prompt and output roots commit them, hidden states with
 * the proofs the prover served against its trace root (whose own token leaves nobody reads).
 */
const viewWithTokens = (committed: DisputeData, tokens: number[]): DisputeData => ({ ...committed, trace: { ...committed.trace, tokens } });

/** A correct trace of another prompt of the same length, reused for the client's job. */
export async function substitutedPrompt(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const clientPrompt = promptOf(21, P);
  const other = honestData(w, promptOf(22, P), NEW);
  const jobId = await openFor(w, { prover: "cheater", prompt: clientPrompt, maxOutputTokens: NEW });
  await commitFor(w, { prover: "cheater", jobId, inputTokens: P, data: other });
  // The verifier replays the client's prompt (verified against promptRoot) with the committed states.
  const view = viewWithTokens(other, [...clientPrompt, ...other.trace.tokens.slice(P)]);
  return disputeAndScore(w, "substituted-prompt", ledger, from, jobId, other, view, { inputTokens: P, samplingParams: 0n });
}

/** outputTokens = maxOutputTokens while the trace and output root hold only a few tokens. */
export async function inflatedTokenCounts(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(23, P);
  const real = honestData(w, prompt, 2);
  const claimed = 8;
  const jobId = await openFor(w, { prover: "cheater", prompt, maxOutputTokens: claimed });
  await commitFor(w, { prover: "cheater", jobId, inputTokens: P, data: real, outputTokens: claimed });
  // The shape comes from the chain: N = P + 8, so the last token and state must exist. The
  // cheater cannot answer them (its trees do not hold those leaves).
  const N = P + claimed;
  const r = await availabilityRound(w, { jobId, leaves: [{ tensor: TOKEN_TENSOR_ID, row: N - 1, chunk: 0 }, { tensor: 0, row: N - 2, chunk: 0 }], answer: undefined });
  await collectGas(w, ledger, from);
  const slashed = (await jobStatus(w, jobId)) === JobStatus.Slashed;
  return ledger.row("inflated-token-counts", { cheaterWon: !slashed, honestLost: !r.feesBack, outcome: slashed ? "slashed: the claimed last token and state were never answered" : "not slashed" });
}

/** Greedy job, the first output token replaced by the cheater's choice, the trace teacher-forced over it. */
export async function teacherForcedOutput(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(24, P);
  const honest = honestData(w, prompt, NEW);
  const tokens = honest.trace.tokens.slice();
  tokens[P] = (tokens[P]! + 7) % w.model.arch.vocab;
  const forced = withTrace(w, generateTrace(w.model.arch, w.model.encoding, w.model.weights, tokens));
  const jobId = await openFor(w, { prover: "cheater", prompt, maxOutputTokens: NEW });
  await commitFor(w, { prover: "cheater", jobId, inputTokens: P, data: forced });
  return disputeAndScore(w, "teacher-forced-output", ledger, from, jobId, forced, forced, { inputTokens: P, samplingParams: 0n });
}

/** Gumbel-max job (τ = 0.8): the cheater picks the least likely token at P and teacher-forces the rest. */
export async function sampledOutput(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(25, P);
  const samplingParams = encodeSamplingParams({ temperature: 0.8, seed: 77n });
  const jobId = await openFor(w, { prover: "cheater", prompt, maxOutputTokens: NEW, samplingParams });
  const honest = withTrace(w, generateSampled(w.model.arch, w.model.encoding, w.model.weights, [...prompt], NEW, samplingParams));
  const tokens = honest.trace.tokens.slice();
  tokens[P] = (tokens[P]! + 11) % w.model.arch.vocab;
  const forced = withTrace(w, generateTrace(w.model.arch, w.model.encoding, w.model.weights, tokens));
  await commitFor(w, { prover: "cheater", jobId, inputTokens: P, data: forced });
  return disputeAndScore(w, "sampled-output", ledger, from, jobId, forced, forced, { inputTokens: P, samplingParams });
}

/** A client publishes a prompt holding 0xFFFFFFFF to make the honest prover miss its deadline. */
export async function oovPromptPublish(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const stake = await stakeOf(w, "honestProver");
  const prompt = [1, 0xffffffff, 2];
  const jobId = await openFor(w, { prover: "honestProver", prompt, maxOutputTokens: 4 });
  let refused = "";
  try {
    await publishPrompt(w.as.client, { jobId, promptTokens: prompt });
  } catch (err) {
    refused = err instanceof TransactionError ? err.revertName ?? "reverted" : String(err);
  }
  // The honest prover cannot run it (id ≥ vocab) and declines; no collateral is at stake.
  await declineJob(w.as.honestProver, { jobId });
  await w.warp(3_600n);
  await collectGas(w, ledger, from);
  const lost = (await stakeOf(w, "honestProver")) < stake;
  return ledger.row("oov-prompt-publish", {
    cheaterWon: refused === "" || lost,
    honestLost: lost || (await jobStatus(w, jobId)) !== JobStatus.Declined,
    outcome: `publishPrompt refused (${refused}); job declined, prover stake unchanged`,
  });
}

/** A client publishes more prompts at once than the prover can finish in one commit timeout. */
export async function promptFlood(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const stake = await stakeOf(w, "honestProver");
  const published: bigint[] = [];
  let refused = 0;
  for (let i = 0; i < 6; i++) {
    const prompt = promptOf(30 + i, P);
    const jobId = await openFor(w, { prover: "honestProver", prompt, maxOutputTokens: 4 });
    try {
      await publishPrompt(w.as.client, { jobId, promptTokens: prompt });
      published.push(jobId);
    } catch (err) {
      if (err instanceof TransactionError && err.revertName === "PublishQueueFull") refused++;
      else throw err;
    }
  }
  // The prover declines what it cannot serve within the decline window (here: all of them).
  for (const jobId of published) await declineJob(w.as.honestProver, { jobId });
  await collectGas(w, ledger, from);
  const lost = (await stakeOf(w, "honestProver")) < stake;
  return ledger.row("prompt-flood", {
    cheaterWon: lost,
    honestLost: lost,
    outcome: `${published.length} published, ${refused} refused (PublishQueueFull), all declined without penalty`,
  });
}

