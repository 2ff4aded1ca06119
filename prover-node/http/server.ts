import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { ApiError } from "../errors.js";
import type { ProverMetrics } from "../metrics.js";

/** Per-request access logs off: metrics count requests; errors are still logged. */
class QuietRequests extends LogController {
  constructor() {
    super({ disableRequestLogging: true });
  }
}

/**
 * The HTTP shell: body limit, OpenAI-style error bodies for every refusal (including fastify's
 * own: malformed JSON, oversize bodies, wrong content type), request metrics, /healthz, /metrics.
 */
export function createHttpServer(o: { bodyLimit: number; logger: Logger; metrics: ProverMetrics; health: () => Promise<object> }): FastifyInstance {
  const app = Fastify({ bodyLimit: o.bodyLimit, loggerInstance: o.logger, logController: new QuietRequests() }) as unknown as FastifyInstance;

  // JSON only: fastify also parses text/plain by default, which would turn a wrong content type
  // into a confusing schema error instead of 415.
  app.removeContentTypeParser("text/plain");
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof ApiError) {
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
  app.addHook("onResponse", async (req, reply) => {
    o.metrics.requests.inc({ route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) });
  });

  // Unhealthy (503) when the chain cannot be read: such a node cannot admit or commit jobs.
  app.get("/healthz", async (_req, reply) => {
    try {
      return { ok: true, ...(await o.health()) };
    } catch (err) {
      return reply.status(503).send({ ok: false, error: { message: `unhealthy: ${(err as Error).message.split("\n")[0]}`, type: "server_error", code: "unhealthy" } });
    }
  });
  app.get("/metrics", async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics()));
  return app;
}
