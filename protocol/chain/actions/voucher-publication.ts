import { parseEventLogs, type Address, type Hex } from "viem";
import { StepproofError } from "../../errors.js";
import { voucherPublicationAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";
import { encodePromptTokens } from "./publishPrompt.js";
import { entryOf, type BatchHeader, type Debit, type JobLeaf } from "../../vouchers/batch.js";
import type { Voucher } from "../../vouchers/voucher.js";

/**
 * Voucher publication (PROTOCOL §5.8 "Publication"): a client publishes a voucher its prover
 * did not serve, with the prompt; the prover answers with the voucher's leaf in a batch
 * committed by the deadline, declines within the decline window, or pays the penalty.
 */

/** Publication.status as the contract numbers it. */
export const PublicationStatus = { None: 0, Open: 1, Answered: 2, Declined: 3, Missed: 4 } as const;

export type Publication = { prover: Address; deadline: bigint; status: number; client: Address; declineDeadline: bigint; penalty: bigint };

export function publicationAddress(clients: StepproofClients): Address {
  const a = clients.deployment.contracts.voucherPublication;
  if (!a) {
    throw new StepproofError(`The deployment on chain ${clients.deployment.chainId} has no voucher publication contract.`, {
      details: "It predates voucher publication (PROTOCOL §5.8): redeploy with `npm run deploy` to add it.",
    });
  }
  return a;
}

/** Publish a signed voucher with its prompt; returns the voucher hash and the prover's deadline. */
export async function publishVoucher(
  clients: StepproofClients,
  p: { voucher: Voucher; signature: Hex; promptTokens: readonly number[] },
): Promise<{ hash: Hex; voucherHash: Hex; publication: Publication }> {
  const { hash, receipt } = await sendContractTransaction(clients, {
    address: publicationAddress(clients),
    abi: voucherPublicationAbi,
    functionName: "publish",
    args: [p.voucher, p.signature, encodePromptTokens(p.promptTokens)],
    what: `publish voucher ${p.voucher.nonce} for prover ${p.voucher.prover}`,
  });
  const [ev] = parseEventLogs({ abi: voucherPublicationAbi, logs: receipt.logs, eventName: "VoucherPublished" });
  if (!ev) throw new StepproofError(`Publication ${hash} emitted no VoucherPublished event.`);
  return { hash, voucherHash: ev.args.voucherHash, publication: ev.args.publication };
}

export async function readPublication(clients: StepproofClients, p: { voucherHash: Hex }): Promise<Publication> {
  return clients.publicClient.readContract({ address: publicationAddress(clients), abi: voucherPublicationAbi, functionName: "publicationOf", args: [p.voucherHash] });
}

/** Anyone, one answer window after the deadline: the held penalty goes to the client. */
export async function claimMissedPublication(clients: StepproofClients, p: { voucherHash: Hex }) {
  return sendContractTransaction(clients, { address: publicationAddress(clients), abi: voucherPublicationAbi, functionName: "claimMissed", args: [p.voucherHash], what: `claim the penalty of missed voucher ${p.voucherHash}` });
}

export async function answerPublication(clients: StepproofClients, p: { voucherHash: Hex; header: BatchHeader; debits: readonly Debit[]; leaf: JobLeaf; index: number; proof: readonly Hex[] }) {
  return sendContractTransaction(clients, {
    address: publicationAddress(clients),
    abi: voucherPublicationAbi,
    functionName: "answer",
    args: [p.voucherHash, p.header, p.debits, BigInt(entryOf(p.debits, p.index)), p.leaf, p.index, p.proof],
    what: `show published voucher ${p.voucherHash} at leaf ${p.index} of batch slot ${p.header.slot}`,
  });
}

export async function declinePublication(clients: StepproofClients, p: { voucherHash: Hex }) {
  return sendContractTransaction(clients, { address: publicationAddress(clients), abi: voucherPublicationAbi, functionName: "decline", args: [p.voucherHash], what: `decline published voucher ${p.voucherHash}` });
}
