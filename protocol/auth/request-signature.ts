import { getAddress, isAddress, isHex, recoverMessageAddress, type Account, type Address, type Hex } from "viem";
import { StepproofError } from "../errors.js";

/**
 * Signed requests to a prover's endpoint (PROTOCOL §5.7). Trace data and job views are served
 * only to the job's client and to registered verifiers; they prove who they are by an EIP-191
 * personal-sign signature of their registered key over the request itself:
 *
 *   stepproof request v1
 *   chain: <chain id>
 *   prover: <the prover's address, lower case>   (a signature for one prover is useless at another)
 *   method: GET
 *   path: /v1/jobs/7/trace                        (the request target up to '?', as sent)
 *   query: layer=3&positions=0-63                 (after '?', as sent; empty when none)
 *   expiry: <unix seconds>                        (refused after it, and when more than maxTtl ahead)
 *   nonce: 0x<32 hex digits>                      (refused the second time: the prover keeps used
 *                                                  nonces until their expiry)
 *
 * carried in four headers. Bytes are signed exactly as sent, so no canonical form is needed.
 */
export const AUTH_HEADERS = {
  signer: "x-stepproof-signer",
  expiry: "x-stepproof-expiry",
  nonce: "x-stepproof-nonce",
  signature: "x-stepproof-signature",
} as const;

/** Longest validity a prover accepts (s): bounds how long it must remember a nonce. */
export const MAX_REQUEST_TTL_SECONDS = 300;

/** Default validity of a signature this library makes (s). */
export const DEFAULT_REQUEST_TTL_SECONDS = 60;

export type SignedRequestTarget = {
  chainId: number;
  /** The prover the request is for (its registered address). */
  prover: Address;
  method: string;
  /** Path and query as sent, e.g. `/v1/jobs/7/trace?layer=1&positions=0-3`. */
  target: string;
};

export type RequestAuthErrorCode = "signature_required" | "signature_invalid" | "signature_expired" | "signature_replayed";

/** A request whose signature is missing, malformed, expired or replayed (HTTP 401). */
export class RequestAuthError extends StepproofError {
  override name = "RequestAuthError";
  constructor(
    readonly code: RequestAuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf("?");
  return q < 0 ? { path: target, query: "" } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/** The exact text signed for a request (EIP-191 personal sign). */
export function requestMessage(p: SignedRequestTarget & { expiry: number; nonce: Hex }): string {
  const { path, query } = splitTarget(p.target);
  return [
    "stepproof request v1",
    `chain: ${p.chainId}`,
    `prover: ${p.prover.toLowerCase()}`,
    `method: ${p.method.toUpperCase()}`,
    `path: ${path}`,
    `query: ${query}`,
    `expiry: ${p.expiry}`,
    `nonce: ${p.nonce.toLowerCase()}`,
  ].join("\n");
}

/** Headers that authenticate one request as `account` (a fresh nonce each call). */
export async function signRequest(
  account: Account,
  p: SignedRequestTarget & { ttlSeconds?: number; nowSeconds?: number },
): Promise<Record<string, string>> {
  if (!account.signMessage) throw new StepproofError(`account ${account.address} cannot sign messages`);
  const expiry = (p.nowSeconds ?? Math.floor(Date.now() / 1000)) + (p.ttlSeconds ?? DEFAULT_REQUEST_TTL_SECONDS);
  const nonce = `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex")}` as Hex;
  const signature = await account.signMessage({ message: requestMessage({ ...p, expiry, nonce }) });
  return { [AUTH_HEADERS.signer]: account.address, [AUTH_HEADERS.expiry]: String(expiry), [AUTH_HEADERS.nonce]: nonce, [AUTH_HEADERS.signature]: signature };
}

export type VerifiedRequest = { signer: Address; expiry: number; nonce: Hex };

/**
 * Check a request's signature and freshness (not the nonce: the caller records it, and
 * refuses it if already used). Throws RequestAuthError.
 */
export async function verifyRequestSignature(
  headers: Record<string, string | string[] | undefined>,
  p: SignedRequestTarget & { nowSeconds: number; maxTtlSeconds?: number },
): Promise<VerifiedRequest> {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? undefined : v;
  };
  const [signer, expiryText, nonce, signature] = [one(AUTH_HEADERS.signer), one(AUTH_HEADERS.expiry), one(AUTH_HEADERS.nonce), one(AUTH_HEADERS.signature)];
  if (!signer || !expiryText || !nonce || !signature) {
    throw new RequestAuthError("signature_required", `sign the request with your registered key (headers ${Object.values(AUTH_HEADERS).join(", ")}; PROTOCOL §5.7)`);
  }
  if (!isAddress(signer) || !/^\d{1,12}$/.test(expiryText) || !/^0x[0-9a-fA-F]{32}$/.test(nonce) || !isHex(signature) || signature.length !== 132) {
    throw new RequestAuthError("signature_invalid", "malformed signature headers");
  }
  const expiry = Number(expiryText);
  if (expiry <= p.nowSeconds) throw new RequestAuthError("signature_expired", `the signature expired at ${expiry} (now ${p.nowSeconds})`);
  const maxTtl = p.maxTtlSeconds ?? MAX_REQUEST_TTL_SECONDS;
  if (expiry > p.nowSeconds + maxTtl) throw new RequestAuthError("signature_invalid", `the signature's expiry ${expiry} is more than ${maxTtl} s ahead (now ${p.nowSeconds})`);
  let recovered: Address;
  try {
    recovered = await recoverMessageAddress({ message: requestMessage({ ...p, expiry, nonce: nonce as Hex }), signature: signature as Hex });
  } catch {
    throw new RequestAuthError("signature_invalid", "the signature does not recover to an address");
  }
  if (recovered.toLowerCase() !== signer.toLowerCase()) throw new RequestAuthError("signature_invalid", `the signature is not ${signer}'s over this request`);
  return { signer: getAddress(signer), expiry, nonce: nonce.toLowerCase() as Hex };
}
