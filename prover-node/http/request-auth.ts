import type { FastifyRequest } from "fastify";
import type { Address } from "viem";
import { nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { AUTH_HEADERS, RequestAuthError, verifyRequestSignature } from "../../protocol/auth/request-signature.js";
import { ApiError } from "../errors.js";
import type { RequestNonces } from "../state/request-nonces.js";
import { ipBucketKey, RateLimiter } from "./rate-limit.js";

/** NodeRegistry.Role.Verifier. */
const VERIFIER_ROLE = 2;

export type RequestAuthOptions = {
  chainId: number;
  /** This prover: signatures name it, so one made for another prover is refused here. */
  prover: Address;
  nonces: RequestNonces;
  /**
   * Whether `address` is a registered verifier, asked for the requester `ip` (registeredVerifiers
   * below caches the chain reads and budgets cache misses per IP).
   */
  isVerifier: IsVerifier;
  /** Per-signer buckets, taken once a signature checks out (an unsigned flood costs its IP's bucket). */
  limiter: RateLimiter;
  /**
   * Per-IP buckets (IPv6 by /64) for requests that carry a signature, taken before the signature
   * is recovered: recovery costs milliseconds of event-loop CPU, so garbage signatures must be
   * refused at a much smaller rate than the per-IP rate of all requests.
   */
  signedIpLimiter: RateLimiter;
  nowSeconds?: () => number;
};

/**
 * Authenticates a signed request (PROTOCOL §5.7): signature over this request and this prover,
 * not expired, nonce not used before, within its IP's signed-request rate (checked before the
 * signature is recovered) and the signer's rate limit. Returns the signer; the
 * route decides what the signer may read. Refusals are 401 (no or bad signature), 429.
 */
export function createRequestAuth(o: RequestAuthOptions) {
  const now = o.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  return {
    async authenticate(req: FastifyRequest): Promise<Address> {
      if (req.headers[AUTH_HEADERS.signature] !== undefined) {
        const wait = o.signedIpLimiter.take(`ip:${ipBucketKey(req.ip)}`);
        if (wait > 0) throw new ApiError(429, "rate_limited", `too many signed requests from ${req.ip}; retry in ${wait.toFixed(1)} s`, { retryAfterSeconds: wait });
      }
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

/** Whether `address` is a registered verifier; `ip` is the requester's, charged for a cache miss. */
export type IsVerifier = (address: Address, ip: string) => Promise<boolean>;

export type RegisteredVerifiersOptions = {
  /** How long a "registered" answer is kept (ms); default one minute. */
  ttlMs?: number;
  /** How long a "not registered" answer is kept (ms); default 10 s, so a new verifier waits little. */
  negativeTtlMs?: number;
  /** Addresses whose answer is kept; default 10,000 (least recently stored dropped). */
  maxEntries?: number;
  /**
   * Cache misses (chain reads) allowed per requester IP: fresh keys must not turn into unbounded
   * RPC load (a miss past it is 429). Default 2/s, bursts of 20.
   */
  missLimiter?: RateLimiter;
};

/**
 * `isVerifier` backed by the NodeRegistry: registered with the verifier role and at least the
 * minimum verifier stake now. Answers are cached (a yes for `ttlMs`, a no for `negativeTtlMs`),
 * so a verifier reading a job in many requests costs one chain read, and a node that unbonds or
 * is slashed below the minimum loses access within the minute. `minVerifierStake` is cached with
 * the same TTL, so a miss costs one read; misses are budgeted per requester IP (429 past it), and
 * a chain read that fails is 503 `chain_unavailable` with Retry-After, never a 500 (PROTOCOL §5.7).
 */
export function registeredVerifiers(clients: StepproofClients, options: RegisteredVerifiersOptions = {}): IsVerifier {
  const ttlMs = options.ttlMs ?? 60_000;
  const negativeTtlMs = options.negativeTtlMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const missLimiter = options.missLimiter ?? new RateLimiter({ perSecond: 2, burst: 20 });
  const cache = new Map<string, { ok: boolean; until: number }>();
  let minStake: { value: bigint; until: number } | undefined;
  const registry = clients.deployment.contracts.nodeRegistry;
  return async (address, ip) => {
    const key = address.toLowerCase();
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.ok;
    const wait = missLimiter.take(`ip:${ipBucketKey(ip)}`);
    if (wait > 0) throw new ApiError(429, "rate_limited", `too many verifier lookups from ${ip}; retry in ${wait.toFixed(1)} s`, { retryAfterSeconds: wait });
    let ok: boolean;
    try {
      const [node, min] = await Promise.all([
        clients.publicClient.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "getNode", args: [address] }),
        minStake && minStake.until > Date.now() ? minStake.value : clients.publicClient.readContract({ address: registry, abi: nodeRegistryAbi, functionName: "minVerifierStake" }),
      ]);
      if (!minStake || minStake.until <= Date.now()) minStake = { value: min, until: Date.now() + ttlMs };
      ok = node.role === VERIFIER_ROLE && node.stake >= min;
    } catch (cause) {
      throw new ApiError(503, "chain_unavailable", "cannot read the verifier registry from the chain; retry later", { cause, retryAfterSeconds: 2 });
    }
    cache.delete(key);
    cache.set(key, { ok, until: Date.now() + (ok ? ttlMs : negativeTtlMs) });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
    return ok;
  };
}
