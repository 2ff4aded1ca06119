import { encodeFunctionData, keccak256, type Abi, type Hex, type TransactionReceipt } from "viem";
import { toTransactionError, TransactionError, withSuiteErrors } from "../../protocol/chain/actions/send.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { ProverNodeError } from "../errors.js";
import type { ProverDb, TxRow } from "./db.js";

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

  constructor(
    readonly db: ProverDb,
    readonly clients: StepproofClients,
    readonly log: (msg: string) => void = () => {},
  ) {}

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Run `fn` while no other transaction of this account is being prepared or sent: for code
   * that sends through its own path (the dispute agent), so two senders never pick one nonce.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#serial(fn);
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
      const receipt = this.#settle(hash).then((r) => {
        if (r.status !== "success") throw new TransactionError(`${p.what}: transaction ${hash} reverted`, {});
        return r;
      });
      return { hash, receipt };
    });
  }

  /** Poll for the receipt of a transaction this process broadcast and record how it ended. */
  async #settle(hash: Hex): Promise<TransactionReceipt> {
    const { publicClient } = this.clients;
    const pollMs = Math.min(publicClient.pollingInterval, 500);
    try {
      for (;;) {
        if (this.#closed) throw new ProverNodeError(`stopped waiting for transaction ${hash}: the node is shutting down (it is settled after a restart)`);
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
   * Settle every transaction persisted but not known to be mined: look up its receipt, else
   * rebroadcast it; a nonce already used by another transaction means it can never land.
   * @returns the rows that were mined successfully (their actions are done).
   */
  resume(): Promise<TxRow[]> {
    return this.#serial(async () => {
      const { publicClient } = this.clients;
      const done: TxRow[] = [];
      for (const tx of this.db.pendingTxs()) {
        let receipt = await publicClient.getTransactionReceipt({ hash: tx.hash }).catch(() => undefined);
        if (this.#watching.has(tx.hash)) {
          // This process awaits its receipt already; if a node dropped it, send the same bytes again.
          if (!receipt) await this.#broadcast(tx.raw).catch((err: unknown) => this.log(`rebroadcasting ${tx.kind} ${tx.key} (${tx.hash}) failed: ${String(err).split("\n")[0]}`));
          continue;
        }
        if (!receipt) {
          const used = await publicClient.getTransactionCount({ address: this.clients.walletClient!.account.address, blockTag: "latest" });
          if (used > tx.nonce) {
            this.db.setTxState(tx.hash, "dropped");
            this.log(`transaction ${tx.hash} (${tx.kind} ${tx.key}) was replaced at nonce ${tx.nonce}; the loop re-derives the action from chain state`);
            continue;
          }
          this.log(`rebroadcasting ${tx.kind} ${tx.key} (${tx.hash})`);
          await this.#broadcast(tx.raw);
          receipt = await publicClient.waitForTransactionReceipt({ hash: tx.hash, timeout: 60_000 });
        }
        this.db.setTxState(tx.hash, receipt.status === "success" ? "mined" : "reverted");
        if (receipt.status === "success") done.push({ ...tx, state: "mined" });
      }
      return done;
    });
  }
}
