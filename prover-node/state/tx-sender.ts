import { BaseError, encodeFunctionData, keccak256, TransactionReceiptNotFoundError, type Abi, type Hex, type TransactionReceipt } from "viem";
import { toTransactionError, TransactionError, withSuiteErrors } from "../../protocol/chain/actions/send.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { ProverNodeError } from "../errors.js";
import type { ProverDb, TxRow } from "./db.js";
import { replacementFor, stuckReason, type Replacement } from "./tx-replacement.js";

export type PersistedSendParameters = {
  /** What the transaction is for, e.g. "commit"; with `key` (e.g. the job id) it names the action. */
  kind: string;
  key: string;
  address: Hex;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  what: string;
};

/** Test hook: the process stops (hangs) at a named point so a test can SIGKILL it there. */
export const FAULT_ENV = "STEPPROOF_FAULT_HANG";
export async function faultPoint(name: string, log: (msg: string) => void): Promise<void> {
  if (process.env[FAULT_ENV] !== name) return;
  log(`fault point ${name}: hanging until killed`);
  await new Promise<never>(() => {});
}

/** How long the sender waits for a transaction, when it stops waiting for the same bytes, and what it may pay (PROTOCOL §5.7 "Transactions"). */
export type TxSenderOptions = {
  /**
   * A send waits this long for its receipt, then rejects with TransactionNotMinedError and leaves
   * the transaction (persisted, pending) to `resume()`: a dropped or underpriced transaction must
   * not hold the loop that would rebroadcast or replace it.
   */
  receiptTimeoutMs?: number;
  /** `resume()` replaces a transaction still unmined this long after it was signed (fees raised). */
  replaceAfterMs?: number;
  /** `resume()` waits this long for what it rebroadcast or replaced; then the next pass looks again. */
  resumeWaitMs?: number;
  /** A replacement never offers more than this fee cap (wei per gas); unset: no ceiling but the chain's own estimate (tx-replacement.ts). */
  maxFeePerGas?: bigint;
};

const DEFAULT_TX_OPTIONS = { receiptTimeoutMs: 120_000, replaceAfterMs: 300_000, resumeWaitMs: 60_000 };

/** A send's receipt did not come in time; the transaction stays persisted and `resume()` settles it. */
export class TransactionNotMinedError extends ProverNodeError {
  override name = "TransactionNotMinedError";
  constructor(
    readonly hash: Hex,
    what: string,
    waitedMs: number,
  ) {
    super(`${what}: transaction ${hash} was not mined within ${Math.round(waitedMs / 1000)} s; it stays persisted, and the loop rebroadcasts it, or replaces it with higher fees when it is priced below the base fee or stays unmined`);
  }
}

/** A send refused while the same action (kind and key) sent earlier is unmined and not waited for: the loop's resume() settles it first. */
export class TransactionsHeldError extends ProverNodeError {
  override name = "TransactionsHeldError";
  constructor(
    what: string,
    readonly held: readonly TxRow[],
  ) {
    const named = held.slice(0, 3).map((t) => `${t.kind} ${t.key} (${t.hash}, nonce ${t.nonce})`).join(", ") + (held.length > 3 ? ` and ${held.length - 3} more` : "");
    super(`cannot ${what} yet: ${named} ${held.length === 1 ? "is" : "are"} not mined; the loop rebroadcasts or replaces ${held.length === 1 ? "it" : "them"} first, so the action is not sent twice`);
  }
}

/** A transaction signed, persisted and broadcast; `receipt` settles once it is mined (its row updated). */
export type SubmittedTx = { hash: Hex; receipt: Promise<TransactionReceipt> };

/**
 * Sends transactions so that a crash at any instant neither loses nor duplicates one: each is
 * simulated (a revert becomes a typed error and nothing is sent), signed locally, written to
 * SQLite with its nonce and raw bytes, and only then broadcast. After a restart `resume()`
 * looks each pending one up and rebroadcasts the same bytes (same nonce, so it can land at
 * most once). Preparing and broadcasting are serialized (one account, one nonce sequence);
 * waiting for a receipt is not, so transactions pipeline: the next is signed with the next
 * nonce while the last is still unmined.
 */
export class PersistedTxSender {
  #queue: Promise<unknown> = Promise.resolve();
  /** Broadcast by this process and not yet settled: their receipts are being awaited, `resume()` leaves them alone. */
  readonly #watching = new Set<Hex>();
  /** The nonce after the last one this process broadcast (a floor for an RPC whose pending count lags). */
  #nextNonce = 0;
  #closed = false;

  readonly #options: Required<Omit<TxSenderOptions, "maxFeePerGas">> & Pick<TxSenderOptions, "maxFeePerGas">;

  constructor(
    readonly db: ProverDb,
    readonly clients: StepproofClients,
    readonly log: (msg: string) => void = () => {},
    options: TxSenderOptions = {},
  ) {
    this.#options = { ...DEFAULT_TX_OPTIONS, ...options };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Send and wait until it is mined; throws if it reverts. */
  async send(p: PersistedSendParameters): Promise<{ hash: Hex; receipt: TransactionReceipt }> {
    const { hash, receipt } = await this.submit(p);
    return { hash, receipt: await receipt };
  }

  /**
   * Simulate, sign, persist and broadcast; resolves once the transaction is broadcast, without
   * waiting for it to be mined. `receipt` rejects if it reverts, or if the sender is closed
   * first (the row stays pending and `resume()` settles it after a restart): callers that do
   * not await it must handle its rejection.
   */
  submit(p: PersistedSendParameters): Promise<SubmittedTx> {
    return this.#serial(async () => {
      if (this.#closed) throw new ProverNodeError(`cannot ${p.what}: the node is shutting down`);
      // The same action sent earlier and not mined (its wait ran out, or it predates a restart)
      // is resume()'s to settle first: derived again from a chain that has not seen it, a second
      // withdraw or reserve would repeat it. Other actions go on: a decline with a deadline must
      // not wait for an unrelated commit's fate, only (on-chain) for its nonce.
      const held = this.db.txsFor(p.kind, p.key).filter((t) => t.state === "pending" && !this.#watching.has(t.hash));
      if (held.length > 0) throw new TransactionsHeldError(p.what, held);
      const wallet = this.clients.walletClient;
      if (!wallet) throw new ProverNodeError(`cannot ${p.what}: no signing account`);
      const { publicClient } = this.clients;
      // The simulation and the nonce read go out together: sends queue behind each other here,
      // so every round trip in this section is paid by each send waiting behind it.
      const [simulated, pending] = await Promise.allSettled([
        // With every suite error: a call into one contract can revert with another's (NodeRegistry's `Jailed` from the escrow).
        publicClient.simulateContract({ account: wallet.account, address: p.address, abi: withSuiteErrors(p.abi), functionName: p.functionName, args: p.args } as Parameters<typeof publicClient.simulateContract>[0]),
        publicClient.getTransactionCount({ address: wallet.account.address, blockTag: "pending" }),
      ]);
      if (simulated.status === "rejected") throw toTransactionError(p.what, simulated.reason);
      if (pending.status === "rejected") throw pending.reason;
      const data = encodeFunctionData({ abi: p.abi, functionName: p.functionName, args: p.args });
      const nonce = Math.max(pending.value, this.#nextNonce);
      const request = await wallet.prepareTransactionRequest({ account: wallet.account, chain: wallet.chain, to: p.address, data, nonce });
      const raw = await wallet.signTransaction(request as Parameters<typeof wallet.signTransaction>[0]);
      const hash = keccak256(raw);
      this.db.insertTx({ hash, kind: p.kind, key: p.key, nonce, raw });
      await faultPoint("before-broadcast", this.log);
      await this.#broadcast(raw);
      this.#nextNonce = nonce + 1;
      this.#watching.add(hash);
      const receipt = this.#settle(hash, p.what).then((r) => {
        if (r.status !== "success") throw new TransactionError(`${p.what}: transaction ${hash} reverted`, {});
        return r;
      });
      return { hash, receipt };
    });
  }

  /** Poll for the receipt of a transaction this process broadcast and record how it ended. */
  async #settle(hash: Hex, what: string): Promise<TransactionReceipt> {
    const { publicClient } = this.clients;
    const pollMs = Math.min(publicClient.pollingInterval, 500);
    const started = Date.now();
    try {
      for (;;) {
        if (this.#closed) throw new ProverNodeError(`stopped waiting for transaction ${hash}: the node is shutting down (it is settled after a restart)`);
        // Past the wait the row is resume()'s: the loop's next pass rebroadcasts or replaces it.
        if (Date.now() - started > this.#options.receiptTimeoutMs) throw new TransactionNotMinedError(hash, what, Date.now() - started);
        const receipt = await publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
        if (receipt) {
          if (this.#closed) throw new ProverNodeError(`transaction ${hash} was mined as the node shut down; it is recorded after a restart`);
          this.db.setTxState(hash, receipt.status === "success" ? "mined" : "reverted");
          return receipt;
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    } finally {
      this.#watching.delete(hash);
    }
  }

  /** Stop waiting for receipts (their rows stay pending for `resume()`); refuse new sends. */
  close(): void {
    this.#closed = true;
  }

  /** The receipt, undefined when the chain has none; a chain that cannot be read throws (nothing is concluded from it). */
  async #receiptOf(hash: Hex): Promise<TransactionReceipt | undefined> {
    try {
      return await this.clients.publicClient.getTransactionReceipt({ hash });
    } catch (err) {
      if (err instanceof TransactionReceiptNotFoundError) return undefined;
      throw err;
    }
  }

  async #broadcast(raw: Hex): Promise<void> {
    try {
      await this.clients.publicClient.sendRawTransaction({ serializedTransaction: raw });
    } catch (err) {
      // A rebroadcast of bytes the node already has is fine: the receipt lookup decides.
      if (/already known|already imported|known transaction/i.test(String((err as Error).message))) return;
      throw err;
    }
  }

  /**
   * Settle every transaction persisted but not known to be mined, nonce by nonce (a nonce can
   * have several rows: a transaction and what replaced it):
   * - a row the chain has mined is recorded (mined or reverted), the others at its nonce dropped;
   * - a nonce the chain used for none of them: all dropped (the loop re-derives the action from
   *   chain state);
   * - otherwise the newest row is rebroadcast (a node may have lost it) or, when stuck (priced
   *   below the base fee, or unmined past `replaceAfterMs`), replaced (`tx-replacement.ts`).
   * Rows a send of this process still awaits are only rebroadcast. What is broadcast here is
   * awaited for up to `resumeWaitMs`, all together and outside the send queue, so a slow chain
   * holds neither the loop for long nor the node's new sends.
   * @returns the rows that were mined successfully (their actions are done).
   */
  async resume(): Promise<TxRow[]> {
    const { publicClient } = this.clients;
    const done: TxRow[] = [];
    const byNonce = new Map<number, TxRow[]>();
    // The row that took its nonce: recorded, and the rows it replaced (or that replaced it) can never land.
    const record = (tx: TxRow, receipt: TransactionReceipt) => {
      this.db.setTxState(tx.hash, receipt.status === "success" ? "mined" : "reverted");
      if (receipt.status === "success") done.push({ ...tx, state: "mined" });
      for (const other of byNonce.get(tx.nonce) ?? []) if (other.hash !== tx.hash) this.db.setTxState(other.hash, "dropped");
    };
    const sent = await this.#serial(async () => {
      const broadcast: TxRow[] = [];
      for (const tx of this.db.pendingTxs()) byNonce.set(tx.nonce, [...(byNonce.get(tx.nonce) ?? []), tx]);
      if (byNonce.size === 0) return broadcast;
      // Read before any receipt: a row mined after this read shows its receipt below, so it is
      // never taken for one whose nonce another transaction used.
      const used = await publicClient.getTransactionCount({ address: this.clients.walletClient!.account.address, blockTag: "latest" });
      for (const [nonce, rows] of byNonce) {
        let receipts: (TransactionReceipt | undefined)[];
        try {
          receipts = await Promise.all(rows.map((tx) => this.#receiptOf(tx.hash)));
        } catch (err) {
          this.log(`cannot look up the transactions at nonce ${nonce}: ${reason(err)}; the next pass tries again`);
          continue;
        }
        if (rows.some((tx) => this.#watching.has(tx.hash))) {
          // This process awaits its receipt already; if a node dropped it, send the same bytes again.
          for (const [i, tx] of rows.entries()) {
            if (this.#watching.has(tx.hash) && !receipts[i]) await this.#broadcast(tx.raw).catch((err: unknown) => this.log(`rebroadcasting ${tx.kind} ${tx.key} (${tx.hash}) failed: ${reason(err)}`));
          }
          continue;
        }
        const landed = receipts.findIndex((r) => r !== undefined);
        if (landed >= 0) {
          record(rows[landed]!, receipts[landed]!);
          continue;
        }
        if (used > nonce) {
          for (const tx of rows) this.db.setTxState(tx.hash, "dropped");
          this.log(`${rows.map((t) => `transaction ${t.hash} (${t.kind} ${t.key})`).join(", ")} never landed: nonce ${nonce} was used by another; the loop re-derives the action from chain state`);
          continue;
        }
        const newest = rows[rows.length - 1]!;
        try {
          // Only the account's next nonce is replaced: the ones after it wait for it, whatever they pay.
          const stuck = nonce === used ? await stuckReason(newest, this.clients, this.#options.replaceAfterMs) : undefined;
          if (!stuck) {
            this.log(`rebroadcasting ${newest.kind} ${newest.key} (${newest.hash})`);
            await this.#broadcast(newest.raw);
            broadcast.push(newest);
            continue;
          }
          let r: Replacement | undefined;
          try {
            r = await replacementFor(newest, this.clients, this.#options.maxFeePerGas);
            this.db.insertTx({ hash: r.hash, kind: r.kind, key: r.key, nonce, raw: r.raw }); // persisted before it is broadcast, as every send
            this.log(`replacing ${newest.kind} ${newest.key} (${newest.hash}) at nonce ${nonce}, as ${stuck}: ${r.cancels ? "its call would revert now, so a transfer to the account itself frees the nonce" : "the same call with higher fees"} (${r.hash})`);
            await this.#broadcast(r.raw);
          } catch (err) {
            // No replacement (the ceiling, a chain read) or a node refused it: the next one is
            // priced from the last row a node took, and that row goes out again in case it was lost.
            if (r) this.db.setTxState(r.hash, "dropped");
            await this.#broadcast(newest.raw).catch(() => {});
            throw err;
          }
          broadcast.push({ hash: r.hash, kind: r.kind, key: r.key, nonce, raw: r.raw, state: "pending", createdAt: Date.now() });
        } catch (err) {
          this.log(`cannot rebroadcast or replace ${newest.kind} ${newest.key} (${newest.hash}) at nonce ${nonce}: ${reason(err)}; the next pass tries again`);
        }
      }
      return broadcast;
    });
    const pollingInterval = Math.min(publicClient.pollingInterval, 500);
    const receipts = await Promise.all(sent.map((tx) => publicClient.waitForTransactionReceipt({ hash: tx.hash, timeout: this.#options.resumeWaitMs, pollingInterval }).catch(() => undefined)));
    for (const [i, receipt] of receipts.entries()) {
      const tx = sent[i]!;
      // viem hands back the receipt of whatever took the nonce: only this row's own counts here.
      if (receipt?.transactionHash === tx.hash) record(tx, receipt);
      else if (receipt) this.log(`nonce ${tx.nonce} was taken by ${receipt.transactionHash}, not ${tx.kind} ${tx.key} (${tx.hash}); the next pass records which`);
      else this.log(`${tx.kind} ${tx.key} (${tx.hash}) is still not mined after ${Math.round(this.#options.resumeWaitMs / 1000)} s; the next pass looks again`);
    }
    return done;
  }
}

/** What a node said about a refused transaction: viem keeps the node's own words in `details`. */
function reason(err: unknown): string {
  if (err instanceof BaseError) return err.details ? `${err.shortMessage} (${err.details})` : err.shortMessage;
  return String(err).split("\n")[0]!;
}
