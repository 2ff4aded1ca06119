import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createWalletClient, custom, defineChain, encodeFunctionData, ExecutionRevertedError, HttpRequestError, keccak256, parseAbi, parseTransaction } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { ProverDb, type TxRow } from "../../prover-node/state/db.js";
import { PersistedTxSender, TransactionsHeldError } from "../../prover-node/state/tx-sender.js";
import { CANCEL_KIND, replacementFor, stuckReason } from "../../prover-node/state/tx-replacement.js";

const chain = defineChain({ id: 31337, name: "dev", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: ["http://127.0.0.1:1"] } } });
const account = privateKeyToAccount(`0x${"ab".repeat(32)}`);
const wallet = createWalletClient({ account, chain, transport: custom({ request: async ({ method }) => (method === "eth_chainId" ? "0x7a69" : Promise.reject(new Error(`unexpected ${method}`))) }) });
const escrow = "0x00000000000000000000000000000000000e5c40" as const;
const data = encodeFunctionData({ abi: parseAbi(["function commitResult(uint256,bytes32,bytes32,uint32)"]), functionName: "commitResult", args: [7n, `0x${"11".repeat(32)}`, `0x${"22".repeat(32)}`, 2] });

async function row(fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { gasPrice: bigint }, createdAt = Date.now()): Promise<TxRow> {
  const raw = await wallet.signTransaction({ account, chain, to: escrow, data, nonce: 4, gas: 120_000n, ...fees } as Parameters<typeof wallet.signTransaction>[0]);
  return { hash: keccak256(raw), kind: "commit", key: "7", nonce: 4, raw, state: "pending", createdAt };
}

/** A chain that answers the few reads a replacement makes; `call` decides whether the call still holds. */
function clientsWith(o: { baseFee?: bigint; call?: () => Promise<unknown>; gas?: bigint }): StepproofClients {
  return {
    walletClient: wallet,
    publicClient: {
      getBlock: async () => ({ baseFeePerGas: o.baseFee ?? 1_000n }),
      call: o.call ?? (async () => ({ data: "0x" })),
      estimateFeesPerGas: async ({ type }: { type: string }) => (type === "legacy" ? { gasPrice: 2_000n } : { maxFeePerGas: 2_000n, maxPriorityFeePerGas: 10n }),
      // A rollup's transfer pays for its L1 data too: above 21,000.
      estimateGas: async () => o.gas ?? 31_000n,
    },
  } as unknown as StepproofClients;
}

describe("replacing a stuck transaction", () => {
  it("is stuck when priced below the base fee, or unmined too long; not otherwise", async () => {
    const tx = await row({ maxFeePerGas: 1_500n, maxPriorityFeePerGas: 100n });
    expect(await stuckReason(tx, clientsWith({ baseFee: 1_000n }), 60_000)).toBeUndefined();
    expect(await stuckReason(tx, clientsWith({ baseFee: 1_501n }), 60_000)).toMatch(/fee cap 1500 is below the base fee 1501/);
    // Old and below the chain's estimate (2,000): replaced. Old but at the estimate or above:
    // the price is not what holds it, and raising it again would only compound the fees.
    expect(await stuckReason(tx, clientsWith({ baseFee: 1_000n }), 60_000, tx.createdAt + 61_000)).toMatch(/unmined for 61 s, offering less than the chain's estimate/);
    const generous = await row({ maxFeePerGas: 2_500n, maxPriorityFeePerGas: 100n });
    expect(await stuckReason(generous, clientsWith({ baseFee: 1_000n }), 60_000, generous.createdAt + 3_600_000)).toBeUndefined();
    const legacy = await row({ gasPrice: 900n });
    expect(await stuckReason(legacy, clientsWith({ baseFee: 1_000n }), 60_000)).toMatch(/fee cap 900/);
  });

  it("sends the same call with each fee raised by a quarter, or to the chain's estimate where higher", async () => {
    const tx = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
    const r = await replacementFor(tx, clientsWith({}));
    const was = parseTransaction(tx.raw);
    const now = parseTransaction(r.raw);
    expect(r).toMatchObject({ kind: "commit", key: "7", cancels: false, hash: keccak256(r.raw) });
    expect({ to: now.to, data: now.data, nonce: now.nonce, gas: now.gas }).toEqual({ to: was.to, data: was.data, nonce: 4, gas: 120_000n });
    // 4,000 × 1.25 (+1) is above the estimate's 2,000; the tip's estimate (10) is below 100 × 1.25.
    expect(now.maxFeePerGas).toBe(5_001n);
    expect(now.maxPriorityFeePerGas).toBe(126n);
    const low = await row({ maxFeePerGas: 1_000n, maxPriorityFeePerGas: 1n });
    expect(parseTransaction((await replacementFor(low, clientsWith({}))).raw)).toMatchObject({ maxFeePerGas: 2_000n, maxPriorityFeePerGas: 10n });
    const legacy = await row({ gasPrice: 3_000n });
    expect(parseTransaction((await replacementFor(legacy, clientsWith({}))).raw).gasPrice).toBe(3_751n);
  });

  it("keeps the old gas limit as a floor, and takes a higher estimate (a rollup's L1 data price moved)", async () => {
    const tx = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
    expect(parseTransaction((await replacementFor(tx, clientsWith({ gas: 90_000n }))).raw).gas).toBe(120_000n);
    expect(parseTransaction((await replacementFor(tx, clientsWith({ gas: 150_000n }))).raw).gas).toBe(150_000n);
  });

  it("refuses to offer more than the operator's ceiling", async () => {
    const tx = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
    await expect(replacementFor(tx, clientsWith({}), 5_000n)).rejects.toMatchObject({ name: "FeeCeilingError", needed: 5_001n, ceiling: 5_000n });
    expect(parseTransaction((await replacementFor(tx, clientsWith({}), 5_001n)).raw).maxFeePerGas).toBe(5_001n);
  });

  it("frees the nonce with a transfer to itself when the call reverts by now", async () => {
    const tx = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
    const r = await replacementFor(tx, clientsWith({ call: async () => Promise.reject(new ExecutionRevertedError({ message: "execution reverted" })) }));
    expect(r).toMatchObject({ kind: CANCEL_KIND, key: tx.hash, cancels: true });
    const now = parseTransaction(r.raw);
    expect({ to: now.to, data: now.data, value: now.value ?? 0n, gas: now.gas, nonce: now.nonce }).toEqual({ to: account.address.toLowerCase(), data: undefined, value: 0n, gas: 31_000n, nonce: 4 });
  });

  it("does not cancel a call it could not check: a chain read that fails is an error, not a revert", async () => {
    const tx = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
    const down = new HttpRequestError({ url: "http://127.0.0.1:1", details: "connect ECONNREFUSED" });
    await expect(replacementFor(tx, clientsWith({ call: async () => Promise.reject(down) }))).rejects.toBe(down);
  });
});

describe("a send while the same action is unmined", () => {
  it("is refused for that action (a second withdraw would repeat it) and not for another", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "held-"));
    const db = new ProverDb(dir);
    try {
      const earlier = await row({ maxFeePerGas: 4_000n, maxPriorityFeePerGas: 100n });
      db.insertTx({ hash: earlier.hash, kind: "withdraw-escrow", key: "credits", nonce: 4, raw: earlier.raw });
      const simulated: string[] = [];
      const clients = {
        walletClient: wallet,
        publicClient: {
          // Past the guard a send simulates first: here that is where it stops.
          simulateContract: async ({ functionName }: { functionName: string }) => {
            simulated.push(functionName);
            throw new Error("no chain here");
          },
          getTransactionCount: async () => 4,
        },
      } as unknown as StepproofClients;
      const sender = new PersistedTxSender(db, clients);
      const send = (kind: string, key: string) => sender.submit({ kind, key, address: escrow, abi: parseAbi(["function withdraw()"]), functionName: "withdraw", args: [], what: `${kind} ${key}` });
      await expect(send("withdraw-escrow", "credits")).rejects.toBeInstanceOf(TransactionsHeldError);
      expect(simulated).toEqual([]);
      await expect(send("withdraw-registry", "credits")).rejects.toMatchObject({ name: "TransactionError" });
      expect(simulated).toEqual(["withdraw"]);
      // Settled (here: by hand, as resume() records it), the action may be sent again.
      db.setTxState(earlier.hash, "mined");
      await expect(send("withdraw-escrow", "credits")).rejects.toMatchObject({ name: "TransactionError" });
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
