import { keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { BatchTree, buildBatch, debitViolations, entryOf, jobLeafHash, leafViolations, verifyJobLeaf, voucherDigest, voucherMaxCharge, type ServedJob, type Voucher } from "../../protocol/vouchers/index.js";

const ESCROW = "0x00000000000000000000000000000000000e5c40" as Address;
const PROVER = "0x00000000000000000000000000000000000b0b00" as Address;
const A = privateKeyToAccount(keccak256(toHex("client a")));
const B = privateKeyToAccount(keccak256(toHex("client b")));

const voucher = (client: Address, nonce: bigint, over: Partial<Voucher> = {}): Voucher => ({
  client, prover: PROVER, modelId: keccak256(toHex("model")), promptRoot: keccak256(toHex(`p${nonce}`)), samplingParams: 0n,
  inputTokens: 10, maxOutputTokens: 20, inputPrice: 3n, outputPrice: 7n, nonce, expiry: 10_000n, ...over,
});
const served = (v: Voucher, outputTokens: number): ServedJob => ({
  voucher: v, voucherHash: voucherDigest(v, 84532, ESCROW), signature: "0x", traceRoot: keccak256(toHex(`t${v.nonce}`)), outputRoot: keccak256(toHex(`o${v.nonce}`)), outputTokens,
});

describe("batch layout (PROTOCOL §5.8)", () => {
  it("groups by client in nonce order, with running totals and one debit each", () => {
    const jobs = [served(voucher(A.address, 5n), 4), served(voucher(B.address, 0n), 20), served(voucher(A.address, 2n), 1), served(voucher(A.address, 9n), 7)];
    const b = buildBatch(jobs);
    expect(b.leaves.map((l) => [l.client, l.nonce])).toEqual([[A.address, 2n], [A.address, 5n], [A.address, 9n], [B.address, 0n]]);
    expect(b.leaves.map((l) => l.cumulative)).toEqual([30n + 7n, 37n + 58n, 95n + 79n, 170n]);
    expect(b.debits).toEqual([
      { client: A.address, firstNonce: 2n, lastNonce: 9n, count: 3, amount: 174n },
      { client: B.address, firstNonce: 0n, lastNonce: 0n, count: 1, amount: 170n },
    ]);
    expect(b.total).toBe(344n);
    expect(entryOf(b.debits, 2)).toBe(0);
    expect(entryOf(b.debits, 3)).toBe(1);
    expect(() => entryOf(b.debits, 4)).toThrow(RangeError);
    expect(() => buildBatch([served(voucher(A.address, 1n), 1), served(voucher(A.address, 1n), 2)])).toThrow(/twice/);
  });

  it("proves every leaf at its own index and no other", () => {
    for (const n of [1, 2, 3, 5, 8, 13]) {
      const b = buildBatch(Array.from({ length: n }, (_, i) => served(voucher(A.address, BigInt(i)), 1 + i)));
      for (let i = 0; i < n; i++) {
        const proof = b.tree.proof(i);
        expect(verifyJobLeaf(b.tree.root, n, b.leaves[i]!, i, proof)).toBe(true);
        if (n > 1) expect(verifyJobLeaf(b.tree.root, n, b.leaves[i]!, (i + 1) % n, proof)).toBe(false);
        // A padding slot (index ≥ n) is never a leaf, even with a well-formed proof.
        expect(verifyJobLeaf(b.tree.root, n, b.leaves[i]!, n, proof)).toBe(false);
      }
      expect(jobLeafHash(b.leaves[0]!)).toBe(b.tree.leaves[0]);
    }
    expect(() => new BatchTree([])).toThrow();
  });
});

describe("what a voucher's holder checks before challenging", () => {
  it("finds each field a leaf changed from its voucher", () => {
    const v = voucher(A.address, 3n);
    const b = buildBatch([served(v, 20)]);
    const header = { prover: PROVER, committedAt: 9_000n };
    const digest = voucherDigest(v, 84532, ESCROW);
    expect(leafViolations(header, b.leaves[0]!, v, digest)).toEqual([]);
    expect(leafViolations(header, { ...b.leaves[0]!, outputTokens: 21 }, v, digest)).toEqual(["outputTokens"]);
    expect(leafViolations(header, { ...b.leaves[0]!, inputPrice: 4n }, v, digest)).toEqual(["prices"]);
    expect(leafViolations({ ...header, committedAt: 10_001n }, b.leaves[0]!, v, digest)).toEqual(["expiry"]);
    expect(leafViolations(header, { ...b.leaves[0]!, samplingParams: 1n }, v, digest)).toEqual(["samplingParams"]);
    // The digest binds the chain and escrow: a voucher for another chain is another hash.
    expect(leafViolations(header, b.leaves[0]!, v, voucherDigest(v, 421614, ESCROW))).toEqual(["voucherHash"]);
  });

  it("flags debits over what the signed vouchers allow, or over nonces never signed", () => {
    const signed = [voucher(A.address, 0n), voucher(A.address, 1n), voucher(A.address, 3n)];
    const max = voucherMaxCharge(signed[0]!);
    expect(debitViolations({ client: A.address, firstNonce: 0n, lastNonce: 3n, count: 3, amount: 3n * max }, signed)).toEqual({ unsignedNonces: false, overMaximum: false, allowed: 3n * max });
    expect(debitViolations({ client: A.address, firstNonce: 0n, lastNonce: 3n, count: 3, amount: 3n * max + 1n }, signed).overMaximum).toBe(true);
    expect(debitViolations({ client: A.address, firstNonce: 0n, lastNonce: 3n, count: 4, amount: 1n }, signed).unsignedNonces).toBe(true);
  });
});
