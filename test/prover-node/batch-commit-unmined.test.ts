import { DatabaseSync } from "node:sqlite";
import { encodeAbiParameters, encodeEventTopics, getAbiItem, keccak256, toHex, type AbiEvent, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { BatchCommitter, batchIdOf } from "../../prover-node/batches/batch-committer.js";
import { voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { TransactionNotMinedError, type PersistedTxSender } from "../../prover-node/state/tx-sender.js";
import { VoucherJobs } from "../../prover-node/state/voucher-jobs.js";
import { CLIENT, committerChain, PROVER, voucher, VOUCHER_SIGNATURE } from "../helpers/vouchers.js";

/**
 * A batch commit whose receipt does not come in time can still land (the sender's resume
 * rebroadcasts or replaces it). Given up at once, as a reverted send is, its jobs went back to
 * waiting and were batched again, while the first batch landed unfollowed: never claimed, its
 * leaves never defended against a challenge. It stays `sending` until the transaction settles.
 */
describe("batch committer: a commit not mined in time", () => {
  it("keeps the batch sending and sends nothing more for its jobs while the transaction is pending", async () => {
    const db = new DatabaseSync(":memory:");
    const vouchers = new VoucherJobs(db);
    const sent: Hex[] = [];
    const clients = committerChain();
    // The commit is broadcast (a row pending in the sender's database) and its wait runs out.
    const pending: { hash: Hex; state: string }[] = [];
    const sender = {
      db: { txsFor: () => pending },
      send: async (p: { what: string }) => {
        const hash = keccak256(toHex(`batch ${sent.length}`));
        sent.push(hash);
        pending.push({ hash, state: "pending" });
        throw new TransactionNotMinedError(hash, p.what, 120_000);
      },
    } as unknown as PersistedTxSender;
    const committer = new BatchCommitter({ clients, prover: PROVER, vouchers, sender, intervalSeconds: 0, maxBatchJobs: 10, reserveHeadroom: 0n, expiryMarginSeconds: 60, log: { info: () => {}, warn: () => {} } });
    const served = { traceRoot: keccak256(toHex("t")), outputRoot: keccak256(toHex("o")), outputTokenIds: [1, 2] };
    const hashes = [0n, 1n].map((n) => keccak256(toHex(`voucher ${n}`)));
    const sig = VOUCHER_SIGNATURE;
    for (const [i, h] of hashes.entries()) {
      expect(vouchers.claim(h, voucher(BigInt(i)), sig)).toBe(true);
      vouchers.markGenerated(h, served);
    }

    await expect(committer.tick()).rejects.toBeInstanceOf(TransactionNotMinedError);
    expect(sent).toHaveLength(1);
    const [batch] = vouchers.batchesIn(["sending"]);
    expect(batch?.voucherHashes).toEqual(hashes);
    expect(vouchers.unbatched()).toHaveLength(0);

    // Next pass: the transaction is still pending, so the batch is neither released nor sent again.
    await committer.tick().catch(() => {});
    expect(sent).toHaveLength(1);
    expect(vouchers.batchesIn(["sending"])).toHaveLength(1);
    db.close();
  });
});

/**
 * The paired case: the late transaction carried the claim of the batch whose slot it takes
 * (multicall). When it lands, that batch is recorded claimed (left `committed`, it would be
 * listed as due and paired again, a claim that reverts every pass); when it never lands, the
 * batch gets its slot back (its leaves answer for the batch id again).
 */
describe("batch committer: a paired claim and commit not mined in time", () => {
  const header = (total: bigint) => ({
    prover: PROVER, slot: 0n, jobsRoot: keccak256(toHex(`root ${total}`)), leafCount: 1, debitsHash: keccak256(toHex("d")), total, collateral: total * 2n,
    committedAt: 900n, challengeDeadline: 950n, feeBps: 0, auditFeeBps: 0,
  });
  const debits = [{ client: CLIENT, firstNonce: 0n, lastNonce: 0n, count: 1, amount: 7n }];
  const log = (eventName: "BatchCommitted" | "BatchClaimed", batchId: Hex) => {
    const unindexed = (getAbiItem({ abi: voucherEscrowAbi, name: eventName }) as AbiEvent).inputs.filter((i) => !i.indexed);
    const data = encodeAbiParameters(unindexed, eventName === "BatchCommitted" ? [header(7n), debits] : [5n, 1n, 1n]);
    return { address: PROVER, topics: encodeEventTopics({ abi: voucherEscrowAbi, eventName, args: { batchId, prover: PROVER } } as never), data, blockNumber: 12n, logIndex: 0, transactionHash: keccak256(toHex("tx")), transactionIndex: 0, blockHash: keccak256(toHex("b")), removed: false };
  };

  /** Batch A committed in slot 0; batch B sent into that slot with A's claim, its wait run out. */
  const setup = (receipt: unknown) => {
    const db = new DatabaseSync(":memory:");
    const vouchers = new VoucherJobs(db);
    const hashes = [0n, 1n].map((n) => keccak256(toHex(`voucher ${n}`)));
    for (const [i, h] of hashes.entries()) {
      expect(vouchers.claim(h, voucher(BigInt(i)), VOUCHER_SIGNATURE)).toBe(true);
      vouchers.markGenerated(h, { traceRoot: keccak256(toHex("t")), outputRoot: keccak256(toHex("o")), outputTokenIds: [1, 2] });
    }
    const id = batchIdOf(PROVER, 0n);
    vouchers.beginBatch(id, 0n, debits, [hashes[0]!]);
    vouchers.setBatch(id, { state: "committed", header: header(3n), commitBlock: 5n });
    const archived = vouchers.beginBatch(id, 0n, debits, [hashes[1]!])!;
    expect(archived).toMatch(/:/);
    const chain = committerChain();
    const clients = { ...chain, publicClient: { ...chain.publicClient, getTransactionReceipt: async () => receipt } } as typeof chain;
    const row = { hash: keccak256(toHex("tx")), state: receipt ? "mined" : "dropped" };
    const sender = { db: { txsFor: () => [row] }, send: async () => Promise.reject(new Error("nothing is sent in this test")) } as unknown as PersistedTxSender;
    const committer = new BatchCommitter({ clients, prover: PROVER, vouchers, sender, intervalSeconds: 3600, maxBatchJobs: 10, reserveHeadroom: 0n, expiryMarginSeconds: 60, log: { info: () => {}, warn: () => {} } });
    return { db, vouchers, committer, id, archived, hashes };
  };

  it("when it lands: the new batch is committed and the one whose claim it carried is claimed", async () => {
    const id = batchIdOf(PROVER, 0n);
    const { db, vouchers, committer, archived } = setup({ status: "success", blockNumber: 12n, transactionHash: keccak256(toHex("tx")), logs: [log("BatchClaimed", id), log("BatchCommitted", id)] });
    await committer.tick().catch(() => {}); // past the resume step the stub chain has no court to follow
    expect(vouchers.batch(id)).toMatchObject({ state: "committed", header: expect.objectContaining({ total: 7n }) });
    expect(vouchers.batch(archived)).toMatchObject({ state: "claimed" });
    db.close();
  });

  it("when it never lands: its jobs wait again and the batch it was to replace has its slot back", async () => {
    const { db, vouchers, committer, id, archived, hashes } = setup(undefined);
    await committer.tick().catch(() => {});
    expect(vouchers.batch(archived)).toBeUndefined();
    expect(vouchers.batch(id)).toMatchObject({ state: "committed", voucherHashes: [hashes[0]] });
    expect(vouchers.job(hashes[1]!)).toMatchObject({ state: "generated" });
    db.close();
  });
});
