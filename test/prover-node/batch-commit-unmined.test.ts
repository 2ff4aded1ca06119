import { DatabaseSync } from "node:sqlite";
import { keccak256, toHex, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { BatchCommitter } from "../../prover-node/batches/batch-committer.js";
import { TransactionNotMinedError, type PersistedTxSender } from "../../prover-node/state/tx-sender.js";
import { VoucherJobs } from "../../prover-node/state/voucher-jobs.js";
import { committerChain, PROVER, voucher, VOUCHER_SIGNATURE } from "../helpers/vouchers.js";

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
