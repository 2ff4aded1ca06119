/** Sustained rate and burst of one requester's token bucket. */
export type RateLimitConfig = { perSecond: number; burst: number };

/**
 * Per-requester token buckets (issue #15): a requester may send `burst` requests at once and
 * `perSecond` on average; past that it gets 429 with the seconds until its next token. The
 * buckets of at most `maxKeys` requesters are kept (least recently seen dropped first), so a
 * flood of distinct addresses costs bounded memory; a dropped requester starts full again,
 * which only ever lets it through sooner.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly config: RateLimitConfig,
    readonly maxKeys = 10_000,
    readonly now: () => number = () => performance.now(),
  ) {
    if (!(config.perSecond > 0) || !(config.burst >= 1)) throw new RangeError(`rate limit needs perSecond > 0 and burst ≥ 1, got ${JSON.stringify(config)}`);
  }

  /** Take one token for `key`: 0 when allowed, else the seconds to wait before retrying. */
  take(key: string): number {
    const t = this.now();
    const b = this.#buckets.get(key) ?? { tokens: this.config.burst, at: t };
    this.#buckets.delete(key); // re-insert: Map order is the recency order
    b.tokens = Math.min(this.config.burst, b.tokens + ((t - b.at) / 1000) * this.config.perSecond);
    b.at = t;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = (1 - b.tokens) / this.config.perSecond;
    this.#buckets.set(key, b);
    if (this.#buckets.size > this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return wait;
  }
}

/**
 * The bucket key of a requester address: an IPv4 address as is, an IPv6 address by its /64 (one
 * subscriber usually holds a whole /64, so per-address buckets would let it take 2^64 of them).
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its IPv4 address.
 */
export function ipBucketKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const bare = ip.split("%")[0]!.toLowerCase();
  const [head = "", tail = ""] = bare.split("::");
  const h = head ? head.split(":") : [];
  const t = bare.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = bare.includes("::") ? [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t] : h;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}
