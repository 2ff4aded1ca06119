/**
 * Attacks on the voucher path (PROTOCOL §5.8): a cheating job hidden inside a batch, the same
 * voucher charged twice, outputs beyond a voucher's maximum, a voucher the client never signed,
 * debits that do not add up, and leaves the prover will not show. Each is played against the
 * deployed VoucherEscrow and BatchCourt through the same chain actions nodes use.
 */
import { keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { jobEscrowAbi, batchCourtAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import {
  adoptBatchedJob, answerLeaf, challengeLeaf, claimBatch, commitBatch, depositForProver, proveLeafMiscount,
  readVoucherAccount, reserveForBatches, voidUnanswered,
} from "../../protocol/chain/actions/vouchers.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { buildBatch, chargeOf, signVoucher, voucherDigest, type Batch, type BatchHeader, type ServedJob, type Voucher } from "../../protocol/vouchers/index.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { disputeAndScore } from "./attacks-step.js";
import { generateSampled, generateTrace } from "../../protocol/dispute/forward.js";
import { encodeSamplingParams } from "../../protocol/sampling/rule.js";
import { softmaxShift } from "./cheats.js";
import { blockNumber, collectGas, honestData, paroleCheater, promptOf, stakeOf, withTrace, type World } from "./env.js";
import { Ledger, type AttackRow } from "./report.js";

const P = 3;
const NEW = 5;
const PRICE = parseEther("0.001");

const addr = (w: World, role: "cheater" | "client" | "verifier"): Address => w.as[role].walletClient!.account.address;
const vouchersOf = (w: World): Address => w.as.governance.deployment.contracts.voucherEscrow!;
const courtOf = (w: World): Address => w.as.governance.deployment.contracts.batchCourt!;

/** Nonces the client has signed for the cheater so far (the chain only knows committed ones). */
const signed = new WeakMap<World, bigint>();
let slots = 0n;

/** A fresh cheater with a reserve, and a client deposit to charge. */
async function ready(w: World): Promise<void> {
  await paroleCheater(w);
  await reserveForBatches(w.as.cheater, { amount: parseEther("2") });
  const acc = await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") });
  if (acc.balance < parseEther("1")) await depositForProver(w.as.client, { prover: addr(w, "cheater"), amount: parseEther("1") });
}

/** The client signs a voucher for `prompt` with the cheater (next nonce, one hour). */
async function voucherFor(w: World, prompt: readonly number[], samplingParams = 0n): Promise<{ voucher: Voucher; voucherHash: Hex; signature: Hex }> {
  const onChain = (await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") })).nextNonce;
  const nonce = [signed.get(w) ?? 0n, onChain].reduce((a, b) => (a > b ? a : b));
  signed.set(w, nonce + 1n);
  const voucher: Voucher = {
    client: addr(w, "client"), prover: addr(w, "cheater"), modelId: w.modelId, promptRoot: tokenRoot(prompt, 0), samplingParams,
    inputTokens: prompt.length, maxOutputTokens: NEW, inputPrice: PRICE, outputPrice: PRICE, nonce, expiry: (await w.now()) + 3600n,
  };
  const chainId = w.as.governance.deployment.chainId;
  return { voucher, voucherHash: voucherDigest(voucher, chainId, vouchersOf(w)), signature: await signVoucher(w.as.client.walletClient!, voucher, chainId, vouchersOf(w)) };
}

async function served(w: World, prompt: readonly number[], data: DisputeData, samplingParams = 0n): Promise<ServedJob> {
  const v = await voucherFor(w, prompt, samplingParams);
  const output = data.trace.tokens.slice(prompt.length);
  return { ...v, traceRoot: data.traceTree.root, outputRoot: tokenRoot(output, prompt.length), outputTokens: output.length };
}

async function commit(w: World, batch: Batch): Promise<BatchHeader> {
  return (await commitBatch(w.as.cheater, { slot: ++slots, batch })).header;
}

const voided = async (w: World, header: BatchHeader) =>
  (await w.as.governance.publicClient.readContract({ address: vouchersOf(w), abi: voucherEscrowAbi, functionName: "batchHash", args: [keccak256(encodeSlot(header))] })) === `0x${"00".repeat(31)}01`;
const encodeSlot = (h: BatchHeader): Hex => `0x${h.prover.slice(2).padStart(64, "0")}${h.slot.toString(16).padStart(64, "0")}`;
const courtCredit = (w: World, role: "client" | "verifier") =>
  w.as.governance.publicClient.readContract({ address: courtOf(w), abi: batchCourtAbi, functionName: "credits", args: [addr(w, role)] });

/**
 * A cheating job among honest ones in one batch: the verifier moves it into the JobEscrow and
 * proves the step there; the rest of the batch is claimed; the client gets that job's charge back.
 */
export async function batchHiddenCheat(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const prompt = promptOf(41, P);
  const cheat = softmaxShift(honestData(w, prompt, NEW), 5, 1, "first-position");
  if (!cheat) throw new Error("batch-hidden-cheat: no cheat found");
  const jobs = [await served(w, promptOf(42, P), honestData(w, promptOf(42, P), NEW)), await served(w, prompt, cheat.committed), await served(w, promptOf(43, P), honestData(w, promptOf(43, P), NEW))];
  const batch = buildBatch(jobs);
  const header = await commit(w, batch);
  const index = batch.jobs.indexOf(jobs[1]!);
  // The verifier has the leaf and the client's voucher from the prover's leaf endpoint (§5.8).
  const adopted = await adoptBatchedJob(w.as.verifier, { header, debits: batch.debits, leaf: batch.leaves[index]!, index, proof: batch.tree.proof(index), voucher: jobs[1]!.voucher, signature: jobs[1]!.signature });
  const row = await disputeAndScore(w, "batch-hidden-cheat", ledger, from, adopted.jobId, cheat.prover, cheat.committed, { inputTokens: P, samplingParams: 0n });
  // The batch's honest jobs are claimed on their own clock; the cheat is paid nothing.
  const now = await w.now();
  if (now <= header.challengeDeadline) await w.warp(header.challengeDeadline - now + 1n);
  const earnedBefore = (await w.as.governance.publicClient.readContract({ address: vouchersOf(w), abi: voucherEscrowAbi, functionName: "book", args: [addr(w, "cheater")] })).earned;
  await claimBatch(w.as.governance, { header });
  const earned = (await w.as.governance.publicClient.readContract({ address: vouchersOf(w), abi: voucherEscrowAbi, functionName: "book", args: [addr(w, "cheater")] })).earned - earnedBefore;
  const cheatCharge = chargeOf(batch.leaves[index]!);
  const honestTotal = batch.total - cheatCharge;
  const status = (await w.as.governance.publicClient.readContract({ address: w.as.governance.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [adopted.jobId] })).status;
  const refunded = await w.as.governance.publicClient.readContract({ address: w.as.governance.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [addr(w, "client")] });
  await collectGas(w, ledger, from);
  const paidOnlyHonest = earned < honestTotal && earned > 0n;
  return ledger.row("batch-hidden-cheat", {
    cheaterWon: row.cheaterWon || status !== JobStatus.Slashed || !paidOnlyHonest,
    honestLost: row.honestLost || refunded < cheatCharge,
    outcome: `${row.outcome}; the batch's ${batch.leaves.length - 1} honest jobs claimed (${earned} after fees of ${honestTotal}), the client refunded ${cheatCharge}`,
  });
}

/**
 * A sampled voucher job (τ 0.8, the client's seed) whose first output the prover picked, with a
 * trace computed over it, between two honest jobs: batched jobs draw their noise from the seed
 * alone (§4.4), so the verifier moves the job into the JobEscrow and `HEAD_ARGMAX` judges it
 * with the same noise the prover had to use.
 */
export async function batchSampledOutput(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const prompt = promptOf(47, P);
  const samplingParams = encodeSamplingParams({ temperature: 0.8, seed: 4_242n });
  const honest = withTrace(w, generateSampled(w.model.arch, w.model.encoding, w.model.weights, [...prompt], NEW, samplingParams));
  const tokens = honest.trace.tokens.slice();
  tokens[P] = (tokens[P]! + 11) % w.model.arch.vocab;
  const forced = withTrace(w, generateTrace(w.model.arch, w.model.encoding, w.model.weights, tokens));
  const cheat = await served(w, prompt, forced, samplingParams);
  const jobs = [await served(w, promptOf(48, P), honestData(w, promptOf(48, P), NEW)), cheat];
  const batch = buildBatch(jobs);
  const header = await commit(w, batch);
  const index = batch.jobs.indexOf(cheat);
  const adopted = await adoptBatchedJob(w.as.verifier, { header, debits: batch.debits, leaf: batch.leaves[index]!, index, proof: batch.tree.proof(index), voucher: cheat.voucher, signature: cheat.signature });
  return disputeAndScore(w, "batch-sampled-output", ledger, from, adopted.jobId, forced, forced, { inputTokens: P, samplingParams });
}

/** The same signed vouchers charged in a second batch. */
export async function batchDoubleCharge(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const jobs = [await served(w, promptOf(44, P), honestData(w, promptOf(44, P), NEW))];
  const batch = buildBatch(jobs);
  await commit(w, batch);
  const again = await commit(w, batch).then(() => undefined, (e: unknown) => e);
  await collectGas(w, ledger, from);
  const refused = again instanceof TransactionError && again.revertName === "NonceReused";
  return ledger.row("batch-double-charge", { cheaterWon: !refused, honestLost: false, outcome: refused ? "refused: NonceReused (the account's nonce is past the batch's)" : "a voucher was charged twice" });
}

/**
 * Voided batches: the client (or a verifier) challenges a leaf the prover cannot back with a
 * signed voucher allowing it, or proves a debit the leaves do not add up to.
 */
async function voidRow(
  w: World,
  attack: string,
  shape: (jobs: ServedJob[]) => Batch,
  by: "client" | "verifier",
  how: "challenge" | "miscount",
  pick: (b: Batch) => number,
  cheaterAnswers = true,
): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const jobs = [await served(w, promptOf(45, P), honestData(w, promptOf(45, P), NEW)), await served(w, promptOf(46, P), honestData(w, promptOf(46, P), NEW))];
  const before = (await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") })).balance;
  const batch = shape(jobs);
  const header = await commit(w, batch);
  const index = pick(batch);
  const ref = { debits: batch.debits, leaf: batch.leaves[index]!, index, proof: batch.tree.proof(index) };
  const creditBefore = await courtCredit(w, by);
  const stakeBefore = await stakeOf(w, "cheater");
  if (how === "challenge") {
    await challengeLeaf(w.as[by], { header, index });
    // The cheater tries to answer with the client's real voucher for that nonce, if any.
    const job = batch.jobs[index];
    if (job && cheaterAnswers) await answerLeaf(w.as.cheater, { header, ...ref, voucher: job.voucher, signature: job.signature }).catch(() => undefined);
    await w.warp(601n);
    await voidUnanswered(w.as[by], { header, debits: batch.debits, index });
  } else {
    await proveLeafMiscount(w.as[by], { header, ...ref });
  }
  await collectGas(w, ledger, from);
  const after = (await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") })).balance;
  const isVoid = await voided(w, header);
  const slashed = (await stakeOf(w, "cheater")) < stakeBefore;
  const feeBack = how === "miscount" || (await courtCredit(w, by)) > creditBefore;
  return ledger.row(attack, {
    cheaterWon: !isVoid || !slashed,
    honestLost: after !== before || !feeBack,
    outcome: isVoid ? `voided by the ${by}: the client's ${before} deposit restored, the cheater slashed and jailed` : "the batch stands",
  });
}

/** A leaf billing more outputs than the client's voucher allows. */
export const batchOverMax = (w: World) =>
  voidRow(w, "batch-over-max-outputs", (jobs) => buildBatch(jobs.map((j, i) => (i === 1 ? { ...j, outputTokens: NEW + 3 } : j))), "client", "challenge", () => 1);

/** A leaf charging the client's deposit for a nonce it never signed. */
export const batchFabricatedVoucher = (w: World) =>
  voidRow(
    w,
    "batch-fabricated-voucher",
    (jobs) => {
      const last = jobs[jobs.length - 1]!;
      const fake: ServedJob = { ...last, voucher: { ...last.voucher, nonce: last.voucher.nonce + 1n }, voucherHash: keccak256(toHex("never signed")), signature: "0x" };
      signed.set(w, last.voucher.nonce + 2n);
      return buildBatch([...jobs, fake]);
    },
    "client",
    "challenge",
    (b) => b.leaves.length - 1,
  );

/** An honest-looking batch whose prover will not show one leaf (withheld data). */
export const batchWithheldLeaf = (w: World) => voidRow(w, "batch-withheld-leaf", (jobs) => buildBatch(jobs), "verifier", "challenge", () => 0, false);

/** A debit larger than its leaves' charges add up to. */
export const batchMiscount = (w: World) =>
  voidRow(w, "batch-miscount", (jobs) => {
    const b = buildBatch(jobs);
    b.debits[0] = { ...b.debits[0]!, amount: b.debits[0]!.amount + PRICE };
    return b;
  }, "verifier", "miscount", (b) => b.leaves.length - 1);
