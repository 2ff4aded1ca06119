import type { Socket } from "node:net";
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { ApiError } from "../errors.js";
import type { ProverMetrics } from "../metrics.js";
import { ipBucketKey, type RateLimiter } from "./rate-limit.js";

/** What /healthz may be asked: can the node take a job of these counts now (PROTOCOL §5.6)? */
export type HealthQuery = { inputTokens?: number; maxTokens?: number };

/** Per-request access logs off: metrics count requests; errors are still logged. */
class QuietRequests extends LogController {
  constructor() {
    super({ disableRequestLogging: true });
  }
}

export type HttpServerOptions = {
  bodyLimit: number;
  logger: Logger;
  metrics: ProverMetrics;
  /** The node's state for /healthz; throws an ApiError (503) when asked about a job it cannot take now. */
  health: (q: HealthQuery) => Promise<object>;
  /** Every request counts against its IP address, IPv6 by /64 (issue #15: nothing was rate-limited). */
  ipLimiter: RateLimiter;
  /** Throws an ApiError unless the request may read /metrics (PROTOCOL §5.7). */
  authorizeMetrics: (req: FastifyRequest) => Promise<void>;
  /** Open connections at most (Node's server.maxConnections: more are dropped at accept). */
  maxConnections: number;
  /** Open connections per IP address (IPv6 by /64) at most: more are closed at once, so one address cannot hold every socket. */
  maxConnectionsPerIp: number;
  /** Socket timeouts (ms), so held sockets are dropped: see HttpTimeouts. */
  timeouts: HttpTimeouts;
};

/** Timeouts that drop held sockets (PROTOCOL §5.7). */
export type HttpTimeouts = {
  /** Until a request's headers are in (Node's headersTimeout). */
  headersMs: number;
  /** Until a whole request (headers and body) is in (fastify's requestTimeout); not the response. */
  requestMs: number;
  /** An idle keep-alive connection between requests (fastify's keepAliveTimeout). */
  keepAliveMs: number;
  /** A socket with no traffic either way, a response being generated included (fastify's connectionTimeout). */
  idleMs: number;
};

/**
 * The HTTP shell: body limit, connection caps (total and per IP), socket timeouts, per-IP rate limit, OpenAI-style error bodies for
 * every refusal (including fastify's own: malformed JSON, oversize bodies, wrong content type),
 * request metrics, /healthz, /metrics.
 */
export function createHttpServer(o: HttpServerOptions): FastifyInstance {
  const t = o.timeouts;
  const app = Fastify({
    bodyLimit: o.bodyLimit,
    loggerInstance: o.logger,
    logController: new QuietRequests(),
    connectionTimeout: t.idleMs,
    keepAliveTimeout: t.keepAliveMs,
    requestTimeout: t.requestMs,
  }) as unknown as FastifyInstance;
  app.server.maxConnections = o.maxConnections;
  app.server.headersTimeout = Math.min(t.headersMs, t.requestMs);
  // Per-IP connection cap, at accept (before any byte is read): the global cap alone lets one
  // address take every socket.
  const open = new Map<string, number>();
  app.server.on("connection", (socket: Socket) => {
    const key = ipBucketKey(socket.remoteAddress ?? "");
    const n = (open.get(key) ?? 0) + 1;
    if (n > o.maxConnectionsPerIp) {
      socket.destroy();
      return;
    }
    open.set(key, n);
    socket.once("close", () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });

  // JSON only: fastify also parses text/plain by default, which would turn a wrong content type
  // into a confusing schema error instead of 415.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status === 401 || err.status === 403 || err.status === 429 || (err.status === 503 && req.url.startsWith("/healthz"))) o.metrics.refusedRequests.inc({ code: err.code });
      if (err.retryAfterSeconds !== undefined) void reply.header("retry-after", String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
      return reply.status(err.status).send({ error: { message: err.shortMessage, type: err.status >= 500 ? "server_error" : "invalid_request_error", code: err.code } });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = status === 413 ? "body_too_large" : status === 415 ? "unsupported_media_type" : /JSON/i.test(`${err.code} ${err.message}`) ? "invalid_json" : "invalid_request";
      return reply.status(status).send({ error: { message: err.message, type: "invalid_request_error", code } });
    }
    req.log.error({ err }, "request failed");
    return reply.status(500).send({ error: { message: "internal error", type: "server_error", code: "internal_error" } });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error", code: "not_found" } }));
  // Before any parsing or chain read: a flood from one address is refused at the cost of a lookup.
  app.addHook("onRequest", async (req) => {
    const wait = o.ipLimiter.take(`ip:${ipBucketKey(req.ip)}`);
    if (wait > 0) throw new ApiError(429, "rate_limited", `too many requests from ${req.ip}; retry in ${wait.toFixed(1)} s`, { retryAfterSeconds: wait });
  });
  app.addHook("onResponse", async (req, reply) => {
    o.metrics.requests.inc({ route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) });
  });

  // Unhealthy (503) when the chain cannot be read: such a node cannot admit or commit jobs.
  // Asked about a job's counts (?input_tokens=&max_tokens=), 503 with the reason when the node
  // cannot take such a job now: its stake cannot collateralise it, or its queue is full.
  app.get("/healthz", async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const count = (name: string) => {
      const v = q[name];
      if (v === undefined) return undefined;
      if (!/^[1-9]\d{0,8}$/.test(v)) throw new ApiError(400, "invalid_request", `${name} must be a positive integer`);
      return Number(v);
    };
    const query: HealthQuery = { ...(count("input_tokens") !== undefined ? { inputTokens: count("input_tokens")! } : {}), ...(count("max_tokens") !== undefined ? { maxTokens: count("max_tokens")! } : {}) };
    try {
      return { ok: true, ...(await o.health(query)) };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      return reply.status(503).send({ ok: false, error: { message: `unhealthy: ${(err as Error).message.split("\n")[0]}`, type: "server_error", code: "unhealthy" } });
    }
  });
  app.get("/metrics", async (req, reply) => {
    await o.authorizeMetrics(req);
    return reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
  return app;
}
