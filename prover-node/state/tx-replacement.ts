import { BaseError, ExecutionRevertedError, keccak256, parseTransaction, RawContractError, type Hex } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { ProverNodeError } from "../errors.js";
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
  if (age <= replaceAfterMs) return undefined;
  // Old, yet priced at the chain's estimate or above: the price is not what holds it, and raising
  // it again and again would only compound what the node pays. Same bytes, then.
  const estimate = await currentFees(clients, parsed.type === "eip1559");
  const below = "gasPrice" in estimate ? (parsed.gasPrice ?? 0n) < estimate.gasPrice : (parsed.maxFeePerGas ?? 0n) < estimate.maxFeePerGas || (parsed.maxPriorityFeePerGas ?? 0n) < estimate.maxPriorityFeePerGas;
  return below ? `it has been unmined for ${Math.round(age / 1000)} s, offering less than the chain's estimate now` : undefined;
}

type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint };

async function currentFees(clients: StepproofClients, eip1559: boolean): Promise<Fees> {
  if (!eip1559) return { gasPrice: (await clients.publicClient.estimateFeesPerGas({ type: "legacy" })).gasPrice };
  const { maxFeePerGas, maxPriorityFeePerGas } = await clients.publicClient.estimateFeesPerGas({ type: "eip1559" });
  return { maxFeePerGas, maxPriorityFeePerGas };
}

/** Signed bytes that take over a stuck transaction's nonce, and what the row records them as. */
export type Replacement = { hash: Hex; raw: Hex; kind: string; key: string; cancels: boolean };

/** Kind of the row of a transaction that only uses up a nonce (its key is the hash it replaced). */
export const CANCEL_KIND = "cancel";

/**
 * The transaction to send in place of `tx` at its nonce: the same call with each fee raised by a
 * quarter, or to the chain's current estimate where that is higher (nodes take a replacement
 * only with at least 10 % more on each fee); or, when the call would revert now (its deadline
 * passed, the job settled meanwhile), a zero-value transfer to the account itself that frees the
 * nonce for what comes after it without paying for a revert. What it may offer is bounded:
 * stuckReason() asks for a replacement only while the chain asks more than `tx` offers (its
 * base fee above the cap, or its estimate above the cap or the tip), never for age alone;
 * `ceiling`, when set, refuses anything above it (FeeCeilingError). The caller persists the
 * bytes before broadcasting them.
 */
export async function replacementFor(tx: TxRow, clients: StepproofClients, ceiling?: bigint): Promise<Replacement> {
  const wallet = clients.walletClient;
  if (!wallet) throw new ProverNodeError(`cannot replace ${tx.hash}: no signing account`);
  const { publicClient } = clients;
  const account = wallet.account;
  const parsed = parseTransaction(tx.raw);
  if (parsed.to == null) throw new ProverNodeError(`transaction ${tx.hash} creates a contract; it is not replaced`);
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
    ? // Estimated again, the old limit a floor: a rollup's limit pays for L1 data, whose price moves.
      { to: parsed.to, data: parsed.data, value: parsed.value ?? 0n, gas: await atLeast(parsed.gas, publicClient.estimateGas({ account: account.address, to: parsed.to, data: parsed.data, value: parsed.value })) }
    : // Estimated: on a rollup the gas limit also pays for the L1 data, above 21,000.
      { to: account.address, data: undefined, value: 0n, gas: await publicClient.estimateGas({ account: account.address, to: account.address, value: 0n }) };
  const raise = (old: bigint | undefined, now: bigint) => {
    const raised = ((old ?? 0n) * 5n) / 4n + 1n;
    return now > raised ? now : raised;
  };
  const now = await currentFees(clients, parsed.type === "eip1559");
  let fees: Fees;
  if ("gasPrice" in now) fees = { gasPrice: raise(parsed.gasPrice, now.gasPrice) };
  else {
    const maxPriorityFeePerGas = raise(parsed.maxPriorityFeePerGas, now.maxPriorityFeePerGas);
    const maxFeePerGas = raise(parsed.maxFeePerGas, now.maxFeePerGas);
    fees = { maxPriorityFeePerGas, maxFeePerGas: maxFeePerGas < maxPriorityFeePerGas ? maxPriorityFeePerGas : maxFeePerGas };
  }
  const cap = "gasPrice" in fees ? fees.gasPrice : fees.maxFeePerGas;
  if (ceiling !== undefined && cap > ceiling) throw new FeeCeilingError(tx.hash, cap, ceiling);
  const raw = await wallet.signTransaction({ account, chain: wallet.chain, nonce: tx.nonce, ...call, ...fees } as Parameters<typeof wallet.signTransaction>[0]);
  return { hash: keccak256(raw), raw, kind: stillValid ? tx.kind : CANCEL_KIND, key: stillValid ? tx.key : tx.hash, cancels: !stillValid };
}

/** The replacement a stuck transaction needs would offer more than the operator's ceiling (`chain.maxFeePerGasGwei`). */
export class FeeCeilingError extends ProverNodeError {
  override name = "FeeCeilingError";
  constructor(
    readonly hash: Hex,
    readonly needed: bigint,
    readonly ceiling: bigint,
  ) {
    super(`replacing ${hash} needs a fee cap of ${needed} wei per gas, above the ceiling of ${ceiling} (chain.maxFeePerGasGwei); it is left as it is`);
  }
}

/** The larger of a gas limit and an estimate; the limit alone when the estimate fails. */
async function atLeast(limit: bigint | undefined, estimate: Promise<bigint>): Promise<bigint | undefined> {
  const e = await estimate.catch(() => undefined);
  if (e === undefined) return limit;
  return limit === undefined || e > limit ? e : limit;
}
