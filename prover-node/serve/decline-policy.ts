/**
 * When a node that cannot serve a job whose client published it on-chain right now declines it
 * (PROTOCOL §5.3 JobEscrow, §5.8 "Publication"). Declining within the window costs nothing and
 * refunds the client; letting the commit deadline pass costs the penalty.
 *
 * Only a node busy for now waits: every queue place taken (503 `server_busy` with a Retry-After)
 * frees as the jobs in flight end, within seconds. A job that never fits the KV budget
 * (`server_busy` without one) or a store full of traces (`trace_store_full`: stored traces
 * leave only at settlement, and a held trace becomes a stored one) is declined at once. The
 * wait lasts while more of the window is left than the margin: the decision is taken once a
 * pass, passes start `loopIntervalMs` after the last one ended, and a pass can spend a while
 * generating and waiting for receipts before the decline is sent and mined.
 */
import { ApiError } from "../errors.js";

/** The margin (seconds) a busy node keeps before the end of the decline window: 30 s to send and mine the decline, plus two loop intervals. */
export function declineMarginSeconds(loopIntervalMs: number): bigint {
  return 30n + 2n * BigInt(Math.ceil(loopIntervalMs / 1000));
}

/** The margin with the default loop interval (15 s): 60 s. */
export const DEFAULT_DECLINE_MARGIN_SECONDS = declineMarginSeconds(15_000);

/** A refusal for room (queue places, KV cache, trace store), lasting or not: the job could still be served if room came. */
export function refusedForRoom(err: unknown): boolean {
  return err instanceof ApiError && (err.code === "server_busy" || err.code === "trace_store_full");
}

/** A refusal that the jobs in flight will lift within seconds. */
export function busyForNow(err: unknown): boolean {
  return err instanceof ApiError && err.code === "server_busy" && err.retryAfterSeconds !== undefined;
}

/**
 * Leave the job for the next pass (true) rather than decline it now. The clock is read only for
 * a refusal that may lift, as the later of the chain's head and this machine's clock (a chain
 * that mines on demand can show a head far in the past); a clock that cannot be read declines.
 */
export async function waitForRoom(err: unknown, declineDeadline: bigint | undefined, chainTime: () => Promise<bigint>, marginSeconds = DEFAULT_DECLINE_MARGIN_SECONDS): Promise<boolean> {
  if (!busyForNow(err) || declineDeadline === undefined) return false;
  let now: bigint;
  try {
    now = await chainTime();
  } catch {
    return false;
  }
  const wall = BigInt(Math.floor(Date.now() / 1000));
  return (now > wall ? now : wall) + marginSeconds < declineDeadline;
}
