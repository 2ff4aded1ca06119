import { keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  buildBatch, decodeLeafResponse, decodeVoucherHeader, decodeVoucherNext, encodeLeafResponse, encodeVoucherHeader, encodeVoucherNext,
  signVoucher, voucherDigest, voucherToJson, VoucherWireError, type BatchHeader, type Voucher,
} from "../../protocol/vouchers/index.js";

const ESCROW = "0x00000000000000000000000000000000000e5c40" as Address;
const A = privateKeyToAccount(keccak256(toHex("wire client")));
const PROVER = privateKeyToAccount(keccak256(toHex("wire prover"))).address;

const VOUCHER: Voucher = {
  client: A.address, prover: PROVER, modelId: keccak256(toHex("model")), promptRoot: keccak256(toHex("prompt")), samplingParams: (1n << 255n) + 7n,
  inputTokens: 12, maxOutputTokens: 4_294_967_295, inputPrice: (1n << 128n) - 1n, outputPrice: 4_000_000_000_000n, nonce: (1n << 64n) - 1n, expiry: 1_700_000_600n,
};

/** base64url of arbitrary JSON, as a buggy or hostile client would send it. */
const raw = (json: unknown) => Buffer.from(typeof json === "string" ? json : JSON.stringify(json), "utf8").toString("base64url");
const withVoucher = (over: Record<string, unknown>, drop?: string) => {
  const v: Record<string, unknown> = { ...voucherToJson(VOUCHER), ...over };
  if (drop) delete v[drop];
  return raw({ voucher: v, signature: "0x" + "ab".repeat(65) });
};
const fieldOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VoucherWireError);
    return (err as VoucherWireError).field;
  }
  throw new Error("did not throw");
};

describe("voucher header (PROTOCOL §5.8 wire)", () => {
  it("round-trips a signed voucher at the types' extremes, as base64url without padding", async () => {
    const sig = await signVoucher(A, VOUCHER, 84532, ESCROW);
    const h = encodeVoucherHeader(VOUCHER, sig);
    expect(h).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(h, "base64url").toString("utf8"))).toEqual({ voucher: voucherToJson(VOUCHER), signature: sig });
    const back = decodeVoucherHeader(h);
    expect(back).toEqual({ voucher: { ...VOUCHER, modelId: VOUCHER.modelId.toLowerCase(), promptRoot: VOUCHER.promptRoot.toLowerCase() }, signature: sig });
    expect(voucherDigest(back.voucher, 84532, ESCROW)).toBe(voucherDigest(VOUCHER, 84532, ESCROW));
    // Lower-case addresses are accepted and checksummed.
    expect(decodeVoucherHeader(withVoucher({ client: A.address.toLowerCase() })).voucher.client).toBe(A.address);
  });

  it.each([
    ["client", { client: "0x1234" }],
    ["client", { client: 5 }],
    ["prover", { prover: "not an address" }],
    ["modelId", { modelId: "0x12" }],
    ["promptRoot", { promptRoot: "0x" + "zz".repeat(32) }],
    ["samplingParams", { samplingParams: (1n << 256n).toString() }],
    ["samplingParams", { samplingParams: 0 }],
    ["nonce", { nonce: (1n << 64n).toString() }],
    ["nonce", { nonce: "-1" }],
    ["nonce", { nonce: "01" }],
    ["expiry", { expiry: "1e9" }],
    ["inputPrice", { inputPrice: (1n << 128n).toString() }],
    ["outputPrice", { outputPrice: " 5" }],
    ["inputTokens", { inputTokens: 1.5 }],
    ["inputTokens", { inputTokens: "12" }],
    ["maxOutputTokens", { maxOutputTokens: 2 ** 32 }],
    ["maxOutputTokens", { maxOutputTokens: -1 }],
    ["extra", { extra: 1 }],
  ] as const)("refuses a bad voucher.%s", (field, over) => {
    expect(fieldOf(() => decodeVoucherHeader(withVoucher(over)))).toBe(`voucher.${field}`);
  });

  it.each(["client", "prover", "modelId", "promptRoot", "samplingParams", "nonce", "expiry", "inputPrice", "outputPrice", "inputTokens", "maxOutputTokens"])("refuses a voucher without %s", (field) => {
    const err = (() => {
      try {
        decodeVoucherHeader(withVoucher({}, field));
      } catch (e) {
        return e as VoucherWireError;
      }
    })();
    expect(err?.field).toBe(`voucher.${field}`);
    expect(err?.message).toMatch(new RegExp(`voucher\\.${field}: is missing`));
  });

  it("refuses bad signatures, missing parts and values that are not base64url JSON", () => {
    const v = voucherToJson(VOUCHER);
    expect(fieldOf(() => decodeVoucherHeader(raw({ voucher: v, signature: "0x" })))).toBe("signature");
    expect(fieldOf(() => decodeVoucherHeader(raw({ voucher: v, signature: "0xabc" })))).toBe("signature");
    expect(fieldOf(() => decodeVoucherHeader(raw({ voucher: v })))).toBe("signature");
    const sig65 = `0x${"ab".repeat(65)}`;
    expect(fieldOf(() => decodeVoucherHeader(raw({ signature: sig65 })))).toBe("voucher");
    expect(fieldOf(() => decodeVoucherHeader(raw({ voucher: v, signature: sig65, more: 1 })))).toBe("more");
    // Vouchers are plain ECDSA (PROTOCOL §5.8): a longer, wallet-style signature is refused.
    expect(fieldOf(() => decodeVoucherHeader(raw({ voucher: v, signature: `0x${"ab".repeat(66)}` })))).toBe("signature");
    expect(fieldOf(() => decodeVoucherHeader(raw("[1,2]")))).toBe("body");
    expect(fieldOf(() => decodeVoucherHeader(raw("{not json")))).toBe("header");
    expect(fieldOf(() => decodeVoucherHeader("a+b/c="))).toBe("header");
    expect(fieldOf(() => decodeVoucherHeader(""))).toBe("header");
    expect(fieldOf(() => decodeVoucherHeader(Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url")))).toBe("header");
    expect(fieldOf(() => decodeVoucherHeader("A".repeat(20_000)))).toBe("header");
  });
});

describe("next-nonce and leaf responses", () => {
  it("round-trips /v1/vouchers/next and refuses bad numbers", () => {
    const n = { nextNonce: 17n, outstanding: 10n ** 30n };
    expect(encodeVoucherNext(n)).toEqual({ next_nonce: "17", outstanding: "1000000000000000000000000000000" });
    expect(decodeVoucherNext(JSON.parse(JSON.stringify(encodeVoucherNext(n))))).toEqual(n);
    expect(fieldOf(() => decodeVoucherNext({ next_nonce: 17, outstanding: "0" }))).toBe("next_nonce");
    expect(fieldOf(() => decodeVoucherNext({ next_nonce: "17" }))).toBe("outstanding");
  });

  it("round-trips a batched leaf with its header, debits and proof; refuses each malformed part", () => {
    const jobs = [0n, 1n, 2n].map((nonce) => {
      const v = { ...VOUCHER, nonce, maxOutputTokens: 16, outputPrice: 5n, inputPrice: 3n };
      return { voucher: v, voucherHash: voucherDigest(v, 84532, ESCROW), signature: "0x" as Hex, traceRoot: keccak256(toHex(`t${nonce}`)), outputRoot: keccak256(toHex(`o${nonce}`)), outputTokens: 5 };
    });
    const batch = buildBatch(jobs);
    const header: BatchHeader = {
      prover: PROVER, slot: 3n, jobsRoot: batch.tree.root, leafCount: 3, debitsHash: keccak256("0x01"), total: batch.total, collateral: 2n * batch.total,
      committedAt: 1_700_000_000n, challengeDeadline: 1_700_003_600n, feeBps: 250, auditFeeBps: 500,
    };
    const sig65 = `0x${"cd".repeat(65)}` as Hex;
    const b = { batchId: keccak256("0x02"), header, debits: batch.debits, index: 2, leaf: batch.leaves[2]!, proof: batch.tree.proof(2), voucher: { ...jobs[2]!.voucher, modelId: jobs[2]!.voucher.modelId.toLowerCase() as Hex, promptRoot: jobs[2]!.voucher.promptRoot.toLowerCase() as Hex }, signature: sig65 };
    const wire = JSON.parse(JSON.stringify(encodeLeafResponse(b))) as Record<string, any>;
    expect(wire.header.slot).toBe("3");
    expect(wire.header.leafCount).toBe(3);
    expect(wire.leaf.cumulative).toBe(batch.leaves[2]!.cumulative.toString());
    expect(wire.debits[0].count).toBe(3);
    expect(decodeLeafResponse(wire)).toEqual(b);

    const broken = (mutate: (w: any) => void) => {
      const w = JSON.parse(JSON.stringify(wire));
      mutate(w);
      return fieldOf(() => decodeLeafResponse(w));
    };
    expect(broken((w) => (w.batch_id = "0x12"))).toBe("batch_id");
    expect(broken((w) => (w.header.total = 5))).toBe("header.total");
    expect(broken((w) => (w.header.feeBps = 70_000))).toBe("header.feeBps");
    expect(broken((w) => delete w.header.committedAt)).toBe("header.committedAt");
    expect(broken((w) => (w.debits[0].amount = "x"))).toBe("debits.0.amount");
    expect(broken((w) => (w.debits = []))).toBe("debits");
    expect(broken((w) => (w.index = -1))).toBe("index");
    expect(broken((w) => (w.leaf.outputTokens = "5"))).toBe("leaf.outputTokens");
    expect(broken((w) => (w.leaf.traceRoot = null))).toBe("leaf.traceRoot");
    expect(broken((w) => (w.proof = ["0x00"]))).toBe("proof.0");
  });
});
