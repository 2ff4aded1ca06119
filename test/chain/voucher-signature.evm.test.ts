import { network } from "hardhat";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { beforeAll, describe, expect, it } from "vitest";
import { voucherDigest, voucherSigner, signVoucher, type Voucher } from "../../protocol/vouchers/index.js";
import { devAccount } from "../helpers/chains.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * A prover accepts a voucher only with a signature the court will accept (PROTOCOL §5.8): one it
 * took but BatchCourt.checkVoucher refused would void its batch when the leaf is challenged.
 * `voucherSigner` (TypeScript) against OpenZeppelin's ECDSA.tryRecover (the EVM): whatever the
 * TypeScript side accepts, the contract recovers to the same address.
 */
describe("voucher signatures: protocol/vouchers voucherSigner never accepts what ECDSA.tryRecover refuses", () => {
  let harness: { read: { recover: (args: readonly [Hex, Hex]) => Promise<readonly [Address, number]> } };
  const escrow = "0x00000000000000000000000000000000000e5c20" as Address;
  const client = devAccount(2);
  const voucher: Voucher = {
    client: client.address, prover: devAccount(1).address, modelId: keccak256(toHex("m")), promptRoot: keccak256(toHex("p")), samplingParams: 0n,
    inputTokens: 3, maxOutputTokens: 8, inputPrice: 1n, outputPrice: 2n, nonce: 5n, expiry: 1_000_000n,
  };
  const digest = voucherDigest(voucher, 31337, escrow);

  beforeAll(async () => {
    const { viem } = await network.create();
    harness = (await viem.deployContract("EcdsaHarness")) as unknown as typeof harness;
  });

  it("agrees on a valid signature and its malleated, re-encoded and broken variants", async () => {
    const sig = await signVoucher(client, voucher, 31337, escrow);
    const r = sig.slice(2, 66);
    const s = BigInt(`0x${sig.slice(66, 130)}`);
    const v = Number.parseInt(sig.slice(130, 132), 16);
    const hex = (n: bigint) => n.toString(16).padStart(64, "0");
    const flipped = v === 27 ? 28 : 27;
    const cases: Record<string, Hex> = {
      valid: sig,
      "high s (malleated)": `0x${r}${hex(N - s)}${flipped.toString(16)}`,
      "v = 0": `0x${r}${hex(s)}00`,
      "v = 1": `0x${r}${hex(s)}01`,
      "wrong v": `0x${r}${hex(s)}${flipped.toString(16)}`,
      "zero s": `0x${r}${hex(0n)}${v.toString(16)}`,
      "EIP-2098 compact (64 bytes)": `0x${r}${hex(s | (BigInt(v - 27) << 255n))}`,
      "66 bytes": `${sig}00`,
      empty: "0x",
    };
    const accepted: string[] = [];
    for (const [name, signature] of Object.entries(cases)) {
      const ts = await voucherSigner(digest, signature);
      const [evm, err] = await harness.read.recover([digest, signature]);
      if (ts !== undefined) {
        accepted.push(name);
        expect({ name, err, evm: evm.toLowerCase() }).toEqual({ name, err: 0, evm: ts.toLowerCase() });
      }
    }
    // Only canonical signatures recover here: the client's, and the flipped-v one (a valid
    // signature of some other key, which the node then refuses as not the client's).
    expect(accepted).toEqual(["valid", "wrong v"]);
    expect((await voucherSigner(digest, sig))?.toLowerCase()).toBe(client.address.toLowerCase());
    expect((await voucherSigner(digest, cases["wrong v"]!))?.toLowerCase()).not.toBe(client.address.toLowerCase());
    // The contract refuses the malleated one: had the node taken it, the leaf would be indefensible.
    expect((await harness.read.recover([digest, cases["high s (malleated)"]!]))[1]).not.toBe(0);
  });
});
