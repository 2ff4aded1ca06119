import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../prover-node/http/rate-limit.js";

describe("per-requester rate limits (issue #15)", () => {
  it("lets a burst through, then refuses with the wait until the next token, per requester", () => {
    let t = 0;
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, 10_000, () => t);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBeCloseTo(0.5);
    expect(limiter.take("b")).toBe(0); // another requester has its own bucket
    t = 500; // one token back after half a second at 2/s
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
  });

  it("keeps at most maxKeys buckets: a flood of distinct requesters costs bounded memory", () => {
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, 2, () => 0);
    limiter.take("a");
    limiter.take("b");
    limiter.take("c"); // evicts a (least recently seen)
    expect(limiter.take("b")).toBeGreaterThan(0);
    expect(limiter.take("a")).toBe(0); // forgotten: starts full again
  });
});
