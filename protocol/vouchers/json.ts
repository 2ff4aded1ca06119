import { isAddress, isHex, type Address, type Hex } from "viem";
import { z } from "zod";
import type { BatchHeader, Debit, JobLeaf } from "./batch.js";
import type { Voucher } from "./voucher.js";

/**
 * JSON forms of the voucher path's values (PROTOCOL §5.8, §5.6): bigints as decimal strings,
 * small integers as numbers, hashes and addresses as 0x hex. Parsing validates every field
 * and names the first bad one.
 */
const address = z.string().refine((s) => isAddress(s), "not an address").transform((s) => s as Address);
const bytes32 = z.string().refine((s) => isHex(s) && s.length === 66, "not 32 bytes of 0x hex").transform((s) => s as Hex);
const uint = (bits: number) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]*)$/, "not a decimal integer")
    .transform((s) => BigInt(s))
    .refine((n) => n < 1n << BigInt(bits), `does not fit in uint${bits}`);
const u32 = z.number().int().min(0).max(2 ** 32 - 1);

export const voucherJsonSchema = z.object({
  client: address,
  prover: address,
  modelId: bytes32,
  promptRoot: bytes32,
  samplingParams: uint(256),
  inputTokens: u32,
  maxOutputTokens: u32,
  inputPrice: uint(128),
  outputPrice: uint(128),
  nonce: uint(64),
  expiry: uint(64),
});

export const jobLeafJsonSchema = z.object({
  voucherHash: bytes32,
  client: address,
  nonce: uint(64),
  modelId: bytes32,
  promptRoot: bytes32,
  samplingParams: uint(256),
  traceRoot: bytes32,
  outputRoot: bytes32,
  inputTokens: u32,
  outputTokens: u32,
  inputPrice: uint(128),
  outputPrice: uint(128),
  cumulative: uint(128),
});

export const debitJsonSchema = z.object({ client: address, firstNonce: uint(64), lastNonce: uint(64), count: u32, amount: uint(128) });

export const batchHeaderJsonSchema = z.object({
  prover: address,
  slot: uint(64),
  jobsRoot: bytes32,
  leafCount: u32,
  debitsHash: bytes32,
  total: uint(128),
  collateral: uint(128),
  committedAt: uint(64),
  challengeDeadline: uint(64),
  feeBps: z.number().int().min(0).max(65_535),
  auditFeeBps: z.number().int().min(0).max(65_535),
  openChallenges: u32,
});

/** Decimal strings for every bigint, recursively (the JSON forms above). */
export function toJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}

export class VoucherFormatError extends Error {
  override name = "VoucherFormatError";
}

function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new VoucherFormatError(`${what}: ${issue.path.join(".") || "value"}: ${issue.message}`);
  }
  return r.data;
}

export const parseVoucher = (v: unknown): Voucher => parse(voucherJsonSchema, v, "voucher");
export const parseJobLeaf = (v: unknown): JobLeaf => parse(jobLeafJsonSchema, v, "leaf");
export const parseDebit = (v: unknown): Debit => parse(debitJsonSchema, v, "debit");
export const parseBatchHeader = (v: unknown): BatchHeader => parse(batchHeaderJsonSchema, v, "batch header");

/** The `x-stepproof-voucher` request header: base64url of `{ voucher, signature }` as JSON. */
export const VOUCHER_HEADER = "x-stepproof-voucher";

export function encodeVoucherHeader(voucher: Voucher, signature: Hex): string {
  return Buffer.from(JSON.stringify({ voucher: toJson(voucher), signature }), "utf8").toString("base64url");
}

export function decodeVoucherHeader(value: string): { voucher: Voucher; signature: Hex } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    throw new VoucherFormatError(`${VOUCHER_HEADER}: not base64url of JSON`);
  }
  const obj = parse(z.object({ voucher: z.unknown(), signature: z.string().refine((s) => isHex(s) && s.length >= 4, "not 0x hex") }), json, VOUCHER_HEADER);
  return { voucher: parseVoucher(obj.voucher), signature: obj.signature as Hex };
}
