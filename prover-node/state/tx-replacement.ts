import { BaseError, ExecutionRevertedError, keccak256, parseTransaction, RawContractError, type Hex } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import type { TxRow } from "./db.js";

/**
 * Why a persisted transaction that has not been mined needs new bytes, not just a rebroadcast:
 * priced below the chain's base fee it cannot be included however often it is sent, and one
 * left unmined holds its nonce, so every later transaction of the account (commits with
 * deadlines, dispute moves) queues behind it. Undefined: the same bytes may still land.
 */
export async function stuckReason(tx: TxRow, clients: StepproofClients, replaceAfterMs: number, now = Date.now()): Promise<string | undefined> {
  const parsed = parseTransaction(tx.raw);
  const offered = parsed.maxFeePerGas ?? parsed.gasPrice ?? 0n;
  const { baseFeePerGas } = await clients.publicClient.getBlock({ blockTag: "latest" });
  if (baseFeePerGas != null && offered < baseFeePerGas) return `its fee cap ${offered} is below the base fee ${baseFeePerGas}`;
  const age = now - tx.createdAt;
  if (age > replaceAfterMs) return `it has been unmined for ${Math.round(age / 1000)} s`;
  return undefined;
}

/** Signed bytes that take over a stuck transaction's nonce, and what the row records them as. */
export type Replacement = { hash: Hex; raw: Hex; kind: string; key: string; cancels: boolean };

/** Kind of the row of a transaction that only uses up a nonce (its key is the hash it replaced). */
export const CANCEL_KIND = "cancel";

/**
 * The transaction to send in place of `tx` at its nonce: the same call with fees raised by a
 * quarter, or to the current estimate where that is higher (nodes take a replacement only with
 * at least 10 % more on each fee); or, when the call would revert now (its deadline passed, the
 * job settled meanwhile), a zero-value transfer to the account itself that frees the nonce for
 * what comes after it without paying for a revert. The caller persists it before broadcasting.
 */
export async function replacementFor(tx: TxRow, clients: StepproofClients): Promise<Replacement> {
  const wallet = clients.walletClient;
  if (!wallet) throw new Error("no signing account");
  const { publicClient } = clients;
  const account = wallet.account;
  const parsed = parseTransaction(tx.raw);
  if (parsed.to == null) throw new Error(`transaction ${tx.hash} creates a contract; it is not replaced`);
  // Only a revert makes the call obsolete: a chain that cannot be read says nothing about it,
  // and cancelling a commit that would still land would cost the job its deadline.
  const stillValid = await publicClient.call({ account: account.address, to: parsed.to, data: parsed.data, value: parsed.value }).then(
    () => true,
    (err: unknown) => {
      if (err instanceof BaseError && err.walk((e) => e instanceof ExecutionRevertedError || e instanceof RawContractError)) return false;
      throw err;
    },
  );
  const call = stillValid
    ? { to: parsed.to, data: parsed.data, value: parsed.value ?? 0n, gas: parsed.gas }
    : { to: account.address, data: undefined, value: 0n, gas: 21_000n };
  const raise = (old: bigint | undefined, now: bigint | undefined) => {
    const raised = ((old ?? 0n) * 5n) / 4n + 1n;
    return now != null && now > raised ? now : raised;
  };
  let fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };
  if (parsed.type === "eip1559") {
    const now = await publicClient.estimateFeesPerGas({ type: "eip1559" });
    const maxPriorityFeePerGas = raise(parsed.maxPriorityFeePerGas, now.maxPriorityFeePerGas);
    const maxFeePerGas = raise(parsed.maxFeePerGas, now.maxFeePerGas);
    fees = { maxPriorityFeePerGas, maxFeePerGas: maxFeePerGas < maxPriorityFeePerGas ? maxPriorityFeePerGas : maxFeePerGas };
  } else {
    const now = await publicClient.estimateFeesPerGas({ type: "legacy" });
    fees = { gasPrice: raise(parsed.gasPrice, now.gasPrice) };
  }
  const raw = await wallet.signTransaction({ account, chain: wallet.chain, nonce: tx.nonce, ...call, ...fees } as Parameters<typeof wallet.signTransaction>[0]);
  return { hash: keccak256(raw), raw, kind: stillValid ? tx.kind : CANCEL_KIND, key: stillValid ? tx.key : tx.hash, cancels: !stillValid };
}
