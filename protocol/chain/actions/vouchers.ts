import { maxUint256, parseEventLogs, type Address, type Hex } from "viem";
import { StepproofError } from "../../errors.js";
import { batchCourtAbi, testTokenAbi, voucherEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";
import { entryOf, type Batch, type BatchHeader, type BatchState, type Debit, type JobLeaf } from "../../vouchers/batch.js";
import type { Voucher } from "../../vouchers/voucher.js";

/** Voucher-path actions (PROTOCOL §5.8): deposits, reserves, batch commit/claim and disputes. */

function voucherAddresses(clients: StepproofClients): { vouchers: Address; court: Address } {
  const c = clients.deployment.contracts;
  if (!c.voucherEscrow || !c.batchCourt) {
    throw new StepproofError(`The deployment on chain ${clients.deployment.chainId} has no voucher escrow.`, {
      details: "It predates the voucher path (PROTOCOL §5.8): redeploy with `npm run deploy` to add it.",
    });
  }
  return { vouchers: c.voucherEscrow, court: c.batchCourt };
}

async function approve(clients: StepproofClients, spender: Address, amount: bigint) {
  const owner = clients.walletClient?.account.address;
  if (!owner) return;
  const { token } = clients.deployment.contracts;
  const allowance = await clients.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: "allowance", args: [owner, spender] });
  if (allowance < amount) {
    await sendContractTransaction(clients, { address: token, abi: testTokenAbi, functionName: "approve", args: [spender, maxUint256], what: "approve the voucher contracts" });
  }
}

/** Add `amount` to the caller's deposit for `prover`. */
export async function depositForProver(clients: StepproofClients, p: { prover: Address; amount: bigint }) {
  const { vouchers } = voucherAddresses(clients);
  await approve(clients, vouchers, p.amount);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "deposit", args: [p.prover, p.amount], what: `deposit ${p.amount} for prover ${p.prover}` });
}

export async function requestWithdrawal(clients: StepproofClients, p: { prover: Address }) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "requestWithdrawal", args: [p.prover], what: `request a withdrawal of the deposit for ${p.prover}` });
}

export async function withdrawDeposit(clients: StepproofClients, p: { prover: Address; amount: bigint }) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "withdrawDeposit", args: [p.prover, p.amount], what: `withdraw ${p.amount} of the deposit for ${p.prover}` });
}

export type VoucherAccount = { balance: bigint; nextNonce: bigint; withdrawableAt: bigint };

export async function readVoucherAccount(clients: StepproofClients, p: { client: Address; prover: Address }): Promise<VoucherAccount> {
  const { vouchers } = voucherAddresses(clients);
  return clients.publicClient.readContract({ address: vouchers, abi: voucherEscrowAbi, functionName: "account", args: [p.client, p.prover] });
}

/** Lock `amount` of the prover's free stake as its standing reserve for batches. */
export async function reserveForBatches(clients: StepproofClients, p: { amount: bigint }) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "reserve", args: [p.amount], what: `reserve ${p.amount} of stake for batches` });
}

/** Commit a batch into `slot`; returns the stored header as BatchCommitted emitted it. */
export async function commitBatch(clients: StepproofClients, p: { slot: bigint; batch: Batch }): Promise<{ hash: Hex; batchId: Hex; header: BatchHeader }> {
  const { vouchers } = voucherAddresses(clients);
  const { hash, receipt } = await sendContractTransaction(clients, {
    address: vouchers,
    abi: voucherEscrowAbi,
    functionName: "commitBatch",
    args: [p.slot, p.batch.tree.root, p.batch.leaves.length, p.batch.debits],
    what: `commit a batch of ${p.batch.leaves.length} jobs`,
  });
  const [ev] = parseEventLogs({ abi: voucherEscrowAbi, logs: receipt.logs, eventName: "BatchCommitted" });
  if (!ev) throw new StepproofError(`Batch commit ${hash} emitted no BatchCommitted event.`);
  return { hash, batchId: ev.args.batchId, header: ev.args.header as BatchHeader };
}

export async function claimBatch(clients: StepproofClients, p: { header: BatchHeader }) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "claimBatch", args: [p.header], what: `claim batch slot ${p.header.slot} of ${p.header.prover}` });
}

export async function withdrawEarnings(clients: StepproofClients) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "withdrawEarnings", args: [], what: "withdraw batch earnings" });
}

export async function sweepBatchFees(clients: StepproofClients) {
  const { vouchers } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: vouchers, abi: voucherEscrowAbi, functionName: "sweepFees", args: [], what: "sweep batch fees" });
}

type LeafRef = { header: BatchHeader; debits: readonly Debit[]; leaf: JobLeaf; index: number; proof: readonly Hex[] };

/**
 * Move one job of a live batch into the JobEscrow to dispute it there (it needs the client's
 * signed voucher, which the prover serves with the leaf); returns its job id.
 */
export async function adoptBatchedJob(clients: StepproofClients, p: LeafRef & { voucher: Voucher; signature: Hex }): Promise<{ hash: Hex; jobId: bigint }> {
  const { court } = voucherAddresses(clients);
  const { hash, receipt } = await sendContractTransaction(clients, {
    address: court,
    abi: batchCourtAbi,
    functionName: "adoptJob",
    args: [p.header, p.debits, { entry: BigInt(entryOf(p.debits, p.index)), index: p.index, leaf: p.leaf, proof: p.proof }, { voucher: p.voucher, signature: p.signature }],
    what: `move job ${p.index} of batch slot ${p.header.slot} into the JobEscrow`,
  });
  const [ev] = parseEventLogs({ abi: batchCourtAbi, logs: receipt.logs, eventName: "JobAdopted" });
  if (!ev) throw new StepproofError(`Adoption ${hash} emitted no JobAdopted event.`);
  return { hash, jobId: ev.args.jobId };
}

/** Demand leaf `index` with its voucher from the prover (the challenge fee is approved and paid). */
export async function challengeLeaf(clients: StepproofClients, p: { header: BatchHeader; index: number }): Promise<{ hash: Hex }> {
  const { court, vouchers } = voucherAddresses(clients);
  const fee = await clients.publicClient.readContract({ address: vouchers, abi: voucherEscrowAbi, functionName: "challengeFee" });
  await approve(clients, court, fee);
  const { hash } = await sendContractTransaction(clients, { address: court, abi: batchCourtAbi, functionName: "challengeLeaf", args: [p.header, p.index], what: `challenge leaf ${p.index} of batch slot ${p.header.slot}` });
  return { hash };
}

export async function answerLeaf(clients: StepproofClients, p: LeafRef & { voucher: Voucher; signature: Hex }): Promise<{ hash: Hex }> {
  const { court } = voucherAddresses(clients);
  const { hash } = await sendContractTransaction(clients, {
    address: court,
    abi: batchCourtAbi,
    functionName: "answerLeaf",
    args: [p.header, p.debits, BigInt(entryOf(p.debits, p.index)), p.leaf, p.index, p.proof, p.voucher, p.signature],
    what: `answer the challenge of leaf ${p.index}`,
  });
  return { hash };
}

/** What disputes changed on a live batch. */
export async function readBatchState(clients: StepproofClients, p: { batchId: Hex }): Promise<BatchState> {
  const { vouchers } = voucherAddresses(clients);
  const [state] = await clients.publicClient.readContract({ address: vouchers, abi: voucherEscrowAbi, functionName: "batchState", args: [p.batchId] });
  return state;
}

export async function voidUnanswered(clients: StepproofClients, p: { header: BatchHeader; debits: readonly Debit[]; index: number }) {
  const { court } = voucherAddresses(clients);
  return sendContractTransaction(clients, { address: court, abi: batchCourtAbi, functionName: "voidUnanswered", args: [p.header, p.debits, p.index], what: `void batch slot ${p.header.slot} over unanswered leaf ${p.index}` });
}

export async function proveLeafMiscount(clients: StepproofClients, p: LeafRef) {
  const { court } = voucherAddresses(clients);
  return sendContractTransaction(clients, {
    address: court,
    abi: batchCourtAbi,
    functionName: "proveLeafMiscount",
    args: [p.header, p.debits, BigInt(entryOf(p.debits, p.index)), p.leaf, p.index, p.proof],
    what: `prove leaf ${p.index} miscounts its debit`,
  });
}
