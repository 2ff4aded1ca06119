import type { FastifyRequest } from "fastify";
import type { Address } from "viem";
import { nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { RequestAuthError, verifyRequestSignature } from "../../protocol/auth/request-signature.js";
import { ApiError } from "../errors.js";
import type { RequestNonces } from "../state/request-nonces.js";
import type { RateLimiter } from "./rate-limit.js";

/** NodeRegistry.Role.Verifier. */
const VERIFIER_ROLE = 2;

export type RequestAuthOptions = {
  chainId: number;
  /** This prover: signatures name it, so one made for another prover is refused here. */
  prover: Address;
  nonces: RequestNonces;
  /** Whether `address` is a registered verifier (registeredVerifiers below caches the chain reads). */
  isVerifier: (address: Address) => Promise<boolean>;
  /** Per-signer buckets, taken once a signature checks out (an unsigned flood costs its IP's bucket). */
  limiter: RateLimiter;
  nowSeconds?: () => number;
};

/**
 * Authenticates a signed request (PROTOCOL §5.7): signature over this request and this prover,
 * not expired, nonce not used before, within the signer's rate limit. Returns the signer; the
 * route decides what the signer may read. Refusals are 401 (no or bad signature), 429.
 */
export function createRequestAuth(o: RequestAuthOptions) {
  const now = o.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  return {
    async authenticate(req: FastifyRequest): Promise<Address> {
      const nowSeconds = now();
      let verified;
      try {
        verified = await verifyRequestSignature(req.headers, { chainId: o.chainId, prover: o.prover, method: req.method, target: req.url, nowSeconds });
      } catch (err) {
        if (err instanceof RequestAuthError) throw new ApiError(401, err.code, err.shortMessage);
        throw err;
      }
      if (!o.nonces.use(verified.signer, verified.nonce, verified.expiry, nowSeconds)) {
        throw new ApiError(401, "signature_replayed", `nonce ${verified.nonce} of ${verified.signer} was used before: sign each request afresh`);
      }
      const wait = o.limiter.take(`signer:${verified.signer.toLowerCase()}`);
      if (wait > 0) throw new ApiError(429, "rate_limited", `too many requests from ${verified.signer}; retry in ${wait.toFixed(1)} s`, { retryAfterSeconds: wait });
      return verified.signer;
    },
    isVerifier: o.isVerifier,
  };
}

export type RequestAuth = ReturnType<typeof createRequestAuth>;

/**
 * `isVerifier` backed by the NodeRegistry: registered with the verifier role and at least the
 * minimum verifier stake now. Answers are cached for `ttlMs` (default one minute), so a verifier
 * reading a job in many requests costs one chain read, and a node that unbonds or is slashed
 * below the minimum loses access within the minute.
 */
export function registeredVerifiers(clients: StepproofClients, ttlMs = 60_000, maxEntries = 10_000): (address: Address) => Promise<boolean> {
  const cache = new Map<string, { ok: boolean; until: number }>();
  const registry = clients.deployment.contracts.nodeRegistry;
  return async (address) => {
    const key = address.toLowerCase();
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.ok;
    const [node, min] = await Promise.all([
      clients.publicClient.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "getNode", args: [address] }),
      clients.publicClient.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "minVerifierStake" }),
    ]);
    const ok = node.role === VERIFIER_ROLE && node.stake >= min;
    cache.delete(key);
    cache.set(key, { ok, until: Date.now() + ttlMs });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    return ok;
  };
}
