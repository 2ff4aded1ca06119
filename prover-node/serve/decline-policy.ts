/**
 * When a node that cannot serve a job whose client published it on-chain right now declines it
 * (PROTOCOL §5.3 JobEscrow, §5.8 "Publication"). Declining within the window costs nothing and
 * refunds the client; letting the deadline pass costs the penalty. A node that is only busy (every
 * batch slot or KV byte taken, its trace store's room held by jobs that finish in seconds) would
 * usually have room a pass later, so it waits, but only while the window has DECLINE_MARGIN
 * left: a job that never fits its KV budget is "busy" forever.
 */

/** Refusals that room freed by the jobs in flight may lift. */
const ROOM_MAY_FREE_UP = new Set(["server_busy", "trace_store_full"]);

/** A node still refused this close to the end of the decline window (seconds) declines. */
export const DECLINE_MARGIN_SECONDS = 30n;

/**
 * Leave the job for the next pass (true) rather than decline it now. The chain's clock is read
 * only when the refusal is one that room may lift.
 */
export async function waitForRoom(code: string, declineDeadline: bigint | undefined, chainTime: () => Promise<bigint>): Promise<boolean> {
  if (!ROOM_MAY_FREE_UP.has(code) || declineDeadline === undefined) return false;
  return (await chainTime()) + DECLINE_MARGIN_SECONDS < declineDeadline;
}
