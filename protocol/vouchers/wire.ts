import { getAddress, isAddress, type Address, type Hex } from "viem";
import { z } from "zod";
import { StepproofError } from "../errors.js";
import type { BatchHeader, Debit, JobLeaf } from "./batch.js";
import type { Voucher } from "./voucher.js";

/**
 * The voucher path's HTTP wire format (PROTOCOL §5.8), shared by the client and the prover:
 *
 * - `GET /v1/vouchers/next?client=0x…` → `{ next_nonce, outstanding }` (decimal strings);
 * - `POST /v1/completions` / `/v1/chat/completions` with header `x-stepproof-voucher:
 *   base64url(UTF-8 JSON { voucher, signature })` (encodeVoucherHeader / decodeVoucherHeader);
 * - `GET /v1/vouchers/{voucherHash}/leaf` → `{ batch_id, header, debits, index, leaf, proof }`
 *   once the job is in a committed batch (encodeLeafResponse / decodeLeafResponse).
 *
 * Bigints travel as decimal strings, uint32/uint16 counts as JSON numbers. Every decoder checks
 * every field against its Solidity type and throws VoucherWireError naming the first bad field.
 */

export const VOUCHER_HEADER = "x-stepproof-voucher";

/** A malformed voucher-path message; `field` is the path of the offending field ("voucher.nonce"). */
export class VoucherWireError extends StepproofError {
  override name = "VoucherWireError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`invalid ${field}: ${message}`);
  }
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const uint = (bits: number) =>
  z
    .string({ invalid_type_error: "must be a decimal string" })
    .regex(DECIMAL, "must be a decimal string without sign or leading zeros")
    .transform((s) => BigInt(s))
    .refine((v) => v < 1n << BigInt(bits), `must fit uint${bits}`);
const count = (bits: number) => z.number({ invalid_type_error: "must be a number" }).int("must be an integer").min(0, "must not be negative").max(2 ** bits - 1, `must fit uint${bits}`);
const address = z
  .string({ invalid_type_error: "must be a 0x address" })
  .refine((s) => isAddress(s, { strict: false }), "must be a 20-byte 0x address")
  .transform((s) => getAddress(s) as Address);
const bytes32 = z
  .string({ invalid_type_error: "must be 0x hex" })
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of 0x hex")
  .transform((s) => s.toLowerCase() as Hex);

export const voucherWireSchema = z
  .object({
    client: address,
    prover: address,
    modelId: bytes32,
    promptRoot: bytes32,
    samplingParams: uint(256),
    nonce: uint(64),
    expiry: uint(64),
    inputPrice: uint(128),
    outputPrice: uint(128),
    inputTokens: count(32),
    maxOutputTokens: count(32),
  })
  .strict();

const signature = z
  .string({ invalid_type_error: "must be 0x hex" })
  // Vouchers are plain ECDSA (PROTOCOL §5.8): 65 bytes, or 64 in the compact form.
  .regex(/^0x([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$/, "must be a 64- or 65-byte 0x ECDSA signature")
  .transform((s) => s as Hex);

const voucherHeaderSchema = z.object({ voucher: voucherWireSchema, signature }).strict();

/** Longest header value accepted (a voucher with a 65-byte signature is ≈ 700 characters). */
export const MAX_VOUCHER_HEADER_LENGTH = 16_384;

function firstIssue(err: z.ZodError, prefix = ""): VoucherWireError {
  const issue = err.issues[0]!;
  const where = issue.path.join(".");
  let message = issue.message;
  if (issue.code === "invalid_type" && issue.received === "undefined") message = "is missing";
  if (issue.code === "unrecognized_keys") return new VoucherWireError([prefix, where, issue.keys[0]].filter(Boolean).join("."), "is not a field of this message");
  return new VoucherWireError([prefix, where].filter(Boolean).join(".") || prefix || "body", message);
}

function parse<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, prefix = ""): T {
  const r = schema.safeParse(value);
  if (!r.success) throw firstIssue(r.error, prefix);
  return r.data;
}

function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new VoucherWireError("header", "is not base64url");
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The voucher's fields as JSON: bigints as decimal strings, counts as numbers. */
export function voucherToJson(v: Voucher) {
  return {
    client: v.client,
    prover: v.prover,
    modelId: v.modelId,
    promptRoot: v.promptRoot,
    samplingParams: v.samplingParams.toString(),
    nonce: v.nonce.toString(),
    expiry: v.expiry.toString(),
    inputPrice: v.inputPrice.toString(),
    outputPrice: v.outputPrice.toString(),
    inputTokens: v.inputTokens,
    maxOutputTokens: v.maxOutputTokens,
  };
}

/** The `x-stepproof-voucher` header value: base64url (no padding) of the UTF-8 JSON `{ voucher, signature }`. */
export function encodeVoucherHeader(voucher: Voucher, sig: Hex): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify({ voucher: voucherToJson(voucher), signature: sig })));
}

/**
 * Parse an `x-stepproof-voucher` header value. Throws VoucherWireError naming the field
 * ("header" when the value is not base64url JSON). Addresses come back checksummed and hex
 * lower-cased; the signature is not checked here (the digest needs the chain id and escrow).
 */
export function decodeVoucherHeader(value: string): { voucher: Voucher; signature: Hex } {
  if (typeof value !== "string" || value.length === 0) throw new VoucherWireError("header", "is empty");
  if (value.length > MAX_VOUCHER_HEADER_LENGTH) throw new VoucherWireError("header", `is longer than ${MAX_VOUCHER_HEADER_LENGTH} characters`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64Url(value)));
  } catch (err) {
    if (err instanceof VoucherWireError) throw err;
    throw new VoucherWireError("header", "is not base64url of UTF-8 JSON");
  }
  return parse(voucherHeaderSchema, json);
}

// GET /v1/vouchers/next

const nextSchema = z.object({ next_nonce: uint(64), outstanding: uint(256) });

export type VoucherNext = { nextNonce: bigint; outstanding: bigint };

export function encodeVoucherNext(n: VoucherNext) {
  return { next_nonce: n.nextNonce.toString(), outstanding: n.outstanding.toString() };
}

export function decodeVoucherNext(json: unknown): VoucherNext {
  const r = parse(nextSchema, json);
  return { nextNonce: r.next_nonce, outstanding: r.outstanding };
}

// GET /v1/vouchers/{voucherHash}/leaf

const headerSchema = z
  .object({
    prover: address,
    slot: uint(64),
    jobsRoot: bytes32,
    leafCount: count(32),
    debitsHash: bytes32,
    total: uint(128),
    collateral: uint(128),
    committedAt: uint(64),
    challengeDeadline: uint(64),
    feeBps: count(16),
    auditFeeBps: count(16),
  })
  .strict();

const debitSchema = z.object({ client: address, firstNonce: uint(64), lastNonce: uint(64), count: count(32), amount: uint(128) }).strict();

const leafSchema = z
  .object({
    voucherHash: bytes32,
    client: address,
    nonce: uint(64),
    modelId: bytes32,
    promptRoot: bytes32,
    samplingParams: uint(256),
    traceRoot: bytes32,
    outputRoot: bytes32,
    inputTokens: count(32),
    outputTokens: count(32),
    inputPrice: uint(128),
    outputPrice: uint(128),
    cumulative: uint(128),
  })
  .strict();

const leafResponseSchema = z.object({
  batch_id: bytes32,
  header: headerSchema,
  debits: z.array(debitSchema).min(1, "must list at least one debit").max(65_536),
  index: count(32),
  leaf: leafSchema,
  proof: z.array(bytes32).max(32, "is deeper than 32 levels"),
  // The client's signed voucher: whoever holds it may move the job into the JobEscrow (§5.8).
  voucher: voucherWireSchema,
  signature,
});

export type BatchedLeaf = { batchId: Hex; header: BatchHeader; debits: Debit[]; index: number; leaf: JobLeaf; proof: Hex[]; voucher: Voucher; signature: Hex };

const str = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "bigint" ? v.toString() : v]));

export const batchHeaderToJson = (h: BatchHeader) => str(h);
export const debitToJson = (d: Debit) => str(d);
export const jobLeafToJson = (l: JobLeaf) => str(l);
export const batchHeaderFromJson = (json: unknown): BatchHeader => parse(headerSchema, json, "header");
export const debitFromJson = (json: unknown): Debit => parse(debitSchema, json, "debit");
export const jobLeafFromJson = (json: unknown): JobLeaf => parse(leafSchema, json, "leaf");

/** The 200 body of the leaf endpoint. */
export function encodeLeafResponse(b: BatchedLeaf) {
  return { batch_id: b.batchId, header: batchHeaderToJson(b.header), debits: b.debits.map(debitToJson), index: b.index, leaf: jobLeafToJson(b.leaf), proof: b.proof, voucher: voucherToJson(b.voucher), signature: b.signature };
}

export function decodeLeafResponse(json: unknown): BatchedLeaf {
  const r = parse(leafResponseSchema, json);
  return { batchId: r.batch_id, header: r.header, debits: r.debits, index: r.index, leaf: r.leaf, proof: r.proof, voucher: r.voucher, signature: r.signature };
}
