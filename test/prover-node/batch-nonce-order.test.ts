import { DatabaseSync } from "node:sqlite";
import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { BatchCommitter } from "../../prover-node/batches/batch-committer.js";
import type { PersistedTxSender } from "../../prover-node/state/tx-sender.js";
import { VoucherJobs } from "../../prover-node/state/voucher-jobs.js";
import { committerChain, PROVER, voucher, VOUCHER_SIGNATURE } from "../helpers/vouchers.js";

/**
 * A batch debit moves the client's nonce past its last leaf (PROTOCOL §5.8), so the committer
 * must not batch a client's later voucher while an earlier one is still being generated: the
 * earlier job, served, could never be charged (a client could race a quick job past a long one).
 */
describe("batch committer: nonce order across generation", () => {
  it("waits for a client's lower nonce still generating, then batches both in nonce order", async () => {
    const db = new DatabaseSync(":memory:");
    const vouchers = new VoucherJobs(db);
    const sent: { functionName: string; args: readonly unknown[] }[] = [];
    const clients = committerChain();
    // The send is recorded, then fails: nothing reaches a chain and the jobs go back to waiting.
    const sender = { send: async (p: { functionName: string; args: readonly unknown[] }) => { sent.push(p); throw new Error("no chain here"); } } as unknown as PersistedTxSender;
    const committer = new BatchCommitter({ clients, prover: PROVER, vouchers, sender, intervalSeconds: 0, maxBatchJobs: 10, reserveHeadroom: 0n, expiryMarginSeconds: 60, log: { info: () => {}, warn: () => {} } });
    const served = { traceRoot: keccak256(toHex("t")), outputRoot: keccak256(toHex("o")), outputTokenIds: [1, 2] };
    const hash = (n: bigint) => keccak256(toHex(`voucher ${n}`));
    const sig = VOUCHER_SIGNATURE;
    expect(vouchers.claim(hash(0n), voucher(0n), sig)).toBe(true);
    expect(vouchers.claim(hash(1n), voucher(1n), sig)).toBe(true);
    vouchers.markGenerated(hash(1n), served); // the quick job is done; nonce 0 is still generating

    // The pass itself succeeds: it just has nothing it may commit.
    await committer.tick();
    expect(sent).toHaveLength(0);

    vouchers.markGenerated(hash(0n), served);
    await committer.tick().catch(() => {});
    expect(sent).toHaveLength(1);
    const debits = sent[0]!.args[3] as { firstNonce: bigint; lastNonce: bigint; count: number }[];
    expect(debits).toEqual([expect.objectContaining({ firstNonce: 0n, lastNonce: 1n, count: 2 })]);
    db.close();
  });
});
