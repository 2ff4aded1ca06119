import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import type { DashboardService } from "./service.js";

/** The page's files (plain HTML, CSS and ES modules; nothing is built or downloaded). */
const WEB_DIR = path.join(import.meta.dirname, "web");
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "render.js": "text/javascript; charset=utf-8",
  "charts.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
  "format.js": "text/javascript; charset=utf-8",
};
/** SSE clients at once: each holds a socket; a page needs one. */
const MAX_STREAMS = 64;
const KEEPALIVE_MS = 15_000;

/**
 * The dashboard's HTTP face: the page, its assets, the current snapshot (GET /api/snapshot) and a
 * stream of new ones (GET /api/events, server-sent events). Read-only: no route changes anything.
 */
export function createDashboardServer(service: DashboardService): FastifyInstance {
  const files = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(path.join(WEB_DIR, name))]));
  // SSE responses stay open: close() must not wait for them.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  const streams = new Set<ServerResponse>();

  app.addHook("onSend", async (_req, reply, payload) => {
    // Everything the page loads is served from here; nothing inline runs.
    reply.header("content-security-policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
    reply.header("x-content-type-options", "nosniff");
    return payload;
  });

  const sendFile = (name: string) => async (_req: unknown, reply: import("fastify").FastifyReply) => reply.type(ASSETS[name]!).header("cache-control", "no-cache").send(files.get(name));
  app.get("/", sendFile("index.html"));
  app.get("/assets/:name", async (req, reply) => {
    const { name } = req.params as { name: string };
    if (!Object.hasOwn(ASSETS, name) || name === "index.html") return reply.status(404).send({ error: "not found" });
    return sendFile(name)(req, reply);
  });

  app.get("/api/snapshot", async (_req, reply) => {
    const json = service.json;
    if (!json) return reply.status(503).header("cache-control", "no-store").send({ error: service.lastError ?? { message: "connecting to the chain; the first snapshot is still being built", since: Date.now() } });
    return reply.type("application/json").header("cache-control", "no-store").send(json);
  });

  app.get("/api/events", async (req, reply) => {
    if (streams.size >= MAX_STREAMS) return reply.status(503).send({ error: "too many live pages; reload later" });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    // Tell the browser how long to wait before reconnecting after the stream drops.
    res.write("retry: 2000\n\n");
    const send = (event: "snapshot" | "problem", json: string) => res.write(`event: ${event}\ndata: ${json}\n\n`);
    if (service.json) send("snapshot", service.json);
    else if (service.lastError) send("problem", JSON.stringify(service.lastError));
    const unsubscribe = service.subscribe(send);
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEPALIVE_MS);
    streams.add(res);
    req.raw.once("close", () => {
      clearInterval(keepAlive);
      unsubscribe();
      streams.delete(res);
    });
  });

  app.get("/healthz", async (_req, reply) => {
    const s = service.snapshot;
    const body = { ok: !!s && !service.lastError, head: s?.chain.head ?? null, indexed: s?.chain.indexed ?? null, caughtUp: s?.chain.caughtUp ?? false, error: service.lastError?.message ?? null };
    return reply.status(body.ok ? 200 : 503).send(body);
  });

  app.addHook("onClose", async () => {
    for (const res of streams) res.end();
  });
  return app;
}
