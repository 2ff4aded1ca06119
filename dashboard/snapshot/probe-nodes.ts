/**
 * Liveness of the provers' registered endpoints and the names of the models they serve, from
 * the nodes' own HTTP API (GET /healthz, GET /v1/models). The URLs are whatever a prover
 * registered on-chain, so a probe is a bounded GET: http(s) only, a short timeout, a capped
 * body, a few at a time, never more often than the probe interval.
 */

export type ProbeResult = {
  /** /healthz answered 2xx. */
  ok: boolean;
  /** HTTP status, or undefined when the request failed outright. */
  status?: number;
  latencyMs?: number;
  error?: string;
  /** Wall-clock time of the probe (ms since the epoch). */
  checkedAt: number;
  /** Model id (lower-case) → name, from /v1/models. */
  models: Record<string, string>;
};

export type ProbeOptions = { timeoutMs?: number; maxBodyBytes?: number; concurrency?: number };

export class NodeProber {
  private readonly results = new Map<string, ProbeResult>();
  private lastRun = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly options: ProbeOptions = {},
  ) {}

  result(endpoint: string): ProbeResult | undefined {
    return this.results.get(endpoint);
  }

  /** Model names any node reported (first one wins). */
  modelNames(): Map<string, string> {
    const names = new Map<string, string>();
    for (const r of this.results.values()) for (const [id, name] of Object.entries(r.models)) if (!names.has(id)) names.set(id, name);
    return names;
  }

  /**
   * Probe every endpoint if the last round is older than the interval, or at once when one was
   * never probed (a newly registered node); true when this call ran a round.
   */
  async refresh(endpoints: readonly string[]): Promise<boolean> {
    const unseen = endpoints.some((e) => e && !this.results.has(e));
    if (this.running || (!unseen && Date.now() - this.lastRun < this.intervalMs)) return false;
    this.running = this.probeAll([...new Set(endpoints.filter(Boolean))]).finally(() => {
      this.lastRun = Date.now();
      this.running = undefined;
    });
    await this.running;
    return true;
  }

  private async probeAll(endpoints: string[]): Promise<void> {
    const queue = [...endpoints];
    const worker = async () => {
      for (let e = queue.shift(); e !== undefined; e = queue.shift()) this.results.set(e, await this.probe(e));
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 4, queue.length) }, worker));
  }

  private async probe(endpoint: string): Promise<ProbeResult> {
    const checkedAt = Date.now();
    let base: URL;
    try {
      base = new URL(endpoint.endsWith("/") ? endpoint : `${endpoint}/`);
    } catch {
      return { ok: false, error: "not a URL", checkedAt, models: {} };
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") return { ok: false, error: `not probed (${base.protocol} URL)`, checkedAt, models: {} };
    const started = performance.now();
    try {
      const health = await this.get(new URL("healthz", base));
      const latencyMs = Math.round(performance.now() - started);
      const models = await this.get(new URL("v1/models", base))
        .then((r) => (r.status === 200 ? modelNamesOf(r.body) : {}))
        .catch(() => ({}));
      return { ok: health.status >= 200 && health.status < 300, status: health.status, latencyMs, checkedAt, models };
    } catch (err) {
      return { ok: false, error: describe(err), checkedAt, models: {} };
    }
  }

  private async get(url: URL): Promise<{ status: number; body: string }> {
    const res = await fetch(url, { signal: AbortSignal.timeout(this.options.timeoutMs ?? 2_000), redirect: "manual", headers: { accept: "application/json" } });
    const limit = this.options.maxBodyBytes ?? 64 * 1024;
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        break;
      }
      chunks.push(value);
    }
    return { status: res.status, body: Buffer.concat(chunks).toString("utf8") };
  }
}

/** The prover API's /v1/models: `data[].id` and the stepproof extension's `name`. */
function modelNamesOf(body: string): Record<string, string> {
  try {
    const parsed = JSON.parse(body) as { data?: { id?: unknown; stepproof?: { name?: unknown } }[] };
    const out: Record<string, string> = {};
    for (const m of parsed.data ?? []) if (typeof m.id === "string" && typeof m.stepproof?.name === "string") out[m.id.toLowerCase()] = m.stepproof.name.slice(0, 64);
    return out;
  } catch {
    return {};
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string }; message?: string };
  if (e.name === "TimeoutError" || e.name === "AbortError") return "timed out";
  return e.cause?.code ?? e.message?.split("\n")[0] ?? "unreachable";
}
