import type { Account, Address } from "viem";
import { signRequest } from "./request-signature.js";

export type SignedGetParameters = {
  /** The registered key of the client or verifier reading (PROTOCOL §5.7). */
  account: Account;
  chainId: number;
  /** The prover whose endpoint `url` is: the signature is only good there. */
  prover: Address;
  url: string;
  timeoutMs?: number;
};

/** GET `url` from a prover's endpoint with a fresh signature over this very request (§5.7). */
export async function signedGet(p: SignedGetParameters): Promise<Response> {
  const u = new URL(p.url);
  const headers = await signRequest(p.account, { chainId: p.chainId, prover: p.prover, method: "GET", target: `${u.pathname}${u.search}` });
  return fetch(u, { headers, signal: AbortSignal.timeout(p.timeoutMs ?? 15_000) });
}
