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
