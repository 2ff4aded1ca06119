import pino from "pino";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../prover-node/errors.js";
import { createHttpServer } from "../../prover-node/http/server.js";
import { RateLimiter } from "../../prover-node/http/rate-limit.js";
import { createProverMetrics } from "../../prover-node/metrics.js";

/** The HTTP shell's limits (issue #15 item 6), without a chain: per-IP 429s, the connection cap, /metrics refusals counted. */
describe("prover HTTP shell limits", () => {
  const make = () => {
    const metrics = createProverMetrics();
    const app = createHttpServer({
      bodyLimit: 1024,
      logger: pino({ level: "silent" }),
      metrics,
      health: async () => ({ prover: "0x0" }),
      ipLimiter: new RateLimiter({ perSecond: 0.001, burst: 2 }),
      authorizeMetrics: async () => {
        throw new ApiError(401, "signature_required", "sign it");
      },
      maxConnections: 7,
    });
    return { app, metrics };
  };

  it("refuses a requester past its burst with 429 and Retry-After, before any handler runs", async () => {
    const { app, metrics } = make();
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    const refused = await app.inject({ url: "/healthz" });
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(refused.json()).toMatchObject({ error: { code: "rate_limited" } });
    // Another address has its own bucket.
    expect((await app.inject({ url: "/healthz", remoteAddress: "10.0.0.2" })).statusCode).toBe(200);
    expect(await metrics.registry.getSingleMetricAsString("stepproof_prover_refused_requests_total")).toMatch(/code="rate_limited"} 1/);
    await app.close();
  });

  it("caps open connections and keeps /metrics to those it authorizes", async () => {
    const { app } = make();
    expect(app.server.maxConnections).toBe(7);
    const res = await app.inject({ url: "/metrics", remoteAddress: "10.0.0.3" });
    expect(res.statusCode).toBe(401);
    await app.close();
  });
});
