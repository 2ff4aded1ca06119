import type { Address, Hex } from "viem";
import type { BatchHeader, Debit, JobLeaf } from "./batch.js";
import { voucherMaxCharge, type Voucher } from "./voucher.js";

/**
 * What a client (or anyone holding the voucher) checks before deciding to challenge a leaf
 * (PROTOCOL §5.8): the same rules as BatchCourt.checkVoucher, without the signature (the
 * holder has the signed voucher) and without the chain reads (sampling rule, context). An
 * empty list means the prover can answer a challenge of this leaf.
 */
export function leafViolations(header: Pick<BatchHeader, "prover" | "committedAt">, leaf: JobLeaf, voucher: Voucher, voucherHash: Hex): string[] {
  const same = (a: Address, b: Address) => a.toLowerCase() === b.toLowerCase();
  const out: string[] = [];
  if (voucherHash.toLowerCase() !== leaf.voucherHash.toLowerCase()) out.push("voucherHash");
  if (!same(voucher.client, leaf.client)) out.push("client");
  if (!same(voucher.prover, header.prover)) out.push("prover");
  if (voucher.nonce !== leaf.nonce) out.push("nonce");
  if (voucher.modelId.toLowerCase() !== leaf.modelId.toLowerCase() || voucher.promptRoot.toLowerCase() !== leaf.promptRoot.toLowerCase()) out.push("prompt");
  if (voucher.samplingParams !== leaf.samplingParams) out.push("samplingParams");
  if (voucher.inputTokens !== leaf.inputTokens) out.push("inputTokens");
  if (leaf.outputTokens < 1 || leaf.outputTokens > voucher.maxOutputTokens) out.push("outputTokens");
  if (voucher.inputPrice !== leaf.inputPrice || voucher.outputPrice !== leaf.outputPrice) out.push("prices");
  if (voucher.expiry < header.committedAt) out.push("expiry");
  if (/^0x0*$/.test(leaf.traceRoot) || /^0x0*$/.test(leaf.outputRoot)) out.push("result");
  return out;
}

/**
 * A client's view of one debit against the vouchers it signed for that prover: nonces in the
 * debit's range it never signed, and whether the amount exceeds what those vouchers allow at
 * most. Either means some leaf of the debit cannot be answered: fetch the debit's leaves and
 * challenge the one that fails `leafViolations` (or is not served).
 */
export function debitViolations(debit: Debit, signed: readonly Voucher[]): { unsignedNonces: boolean; overMaximum: boolean; allowed: bigint } {
  const inRange = signed.filter((v) => v.nonce >= debit.firstNonce && v.nonce <= debit.lastNonce);
  const allowed = inRange.reduce((sum, v) => sum + voucherMaxCharge(v), 0n);
  return { unsignedNonces: inRange.length < debit.count, overMaximum: debit.amount > allowed, allowed };
}
