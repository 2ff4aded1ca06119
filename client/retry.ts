import OpenAI from "openai";

/** HTTP statuses a prover uses for "not now" (PROTOCOL §5.6): busy or chain unreadable, rate-limited, trace store full. */
const RETRYABLE = new Set([429, 503, 507]);

/**
 * A refusal worth asking again about: the prover answered, refused for now, and changed nothing
 * (PROTOCOL §5.6: nothing changes on a refusal). Returns the status and the prover's Retry-After.
 */
export function isRetryableRefusal(err: unknown): { status: number; retryAfterSeconds?: number } | undefined {
  if (!(err instanceof OpenAI.APIError) || err.status === undefined || !RETRYABLE.has(err.status)) return undefined;
  const retry = Number(err.headers?.get?.("retry-after"));
  return { status: err.status, ...(retry > 0 ? { retryAfterSeconds: retry } : {}) };
}

/**
 * Exponential backoff with jitter (0.5 s, 1 s, 2 s … capped at 10 s), never sooner than the
 * server's Retry-After: many clients refused at once must not come back at once.
 */
export function backoffDelay(attempt: number, retryAfterSeconds?: number): number {
  const base = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
  const jittered = base / 2 + Math.random() * (base / 2);
  return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Socket-level failures worth a new try: the request may never have reached the prover. */
const CONNECTION_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"]);

/**
 * How a failed job request (nothing streamed yet) is handled after `openJob` (PROTOCOL §5.7
 * "Retrying"):
 * - `"refusal"`: the prover refused for now (429, 503, 507): retry until the window ends, then
 *   give up without publishing (the job expires and is refunded);
 * - `"unreachable"`: no answer (connection refused or reset, timeout) or `job_not_found` from an
 *   older prover whose RPC has not seen the openJob block yet (current provers answer 503
 *   `job_not_visible`, a refusal): retry until the window ends, and only then publish the prompt
 *   on-chain;
 * - `undefined`: a final answer: publish at once.
 */
export function serveFailureKind(err: unknown): "refusal" | "unreachable" | undefined {
  if (isRetryableRefusal(err)) return "refusal";
  if (err instanceof OpenAI.APIConnectionError) return "unreachable";
  if (err instanceof OpenAI.APIError && err.status === 404 && err.code === "job_not_found") return "unreachable";
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_CODES.has(code)) return "unreachable";
  }
  return undefined;
}

/**
 * When to stop resending a job request (ms, local clock): one block interval before the prover's
 * own commit margin, so the last try cannot be a 409 `deadline_too_close` (which is final and
 * would publish the prompt). `chainNow` is the chain's latest block time when `nowMs` was read.
 */
export function retryWindowEnd(p: { commitDeadline: bigint; chainNow: bigint; nowMs: number; proverMarginSeconds: number; blockIntervalSeconds: number }): number {
  const left = Number(p.commitDeadline - p.chainNow) - p.proverMarginSeconds - p.blockIntervalSeconds;
  return p.nowMs + Math.max(0, left) * 1000;
}
