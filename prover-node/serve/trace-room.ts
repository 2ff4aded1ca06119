import type { ModelManifest } from "../../runtime/model/manifest.js";
import { TraceStore, TraceStoreError, TraceStoreFullError } from "../../runtime/trace/store.js";
import { ApiError } from "../errors.js";

/**
 * Admission's last step (PROTOCOL §4.5): hold room for the whole trace of a job that may reach
 * `tokens` tokens, beside every job admitted before it, then `claim` the job (its first write).
 * Refuses with 507 while nothing has changed when the store has no room; throws `conflict` when
 * another request for the same job holds its room already or the claim is refused; gives the
 * room back when the claim fails or throws. Without the hold, jobs admitted side by side each
 * saw the free space of an idle store and the last of them failed mid-generation.
 */
export function holdRoomAndClaim(store: TraceStore, traceId: string, manifest: ModelManifest, tokens: number, what: string, conflict: ApiError, claim: () => boolean): void {
  const { architecture: arch, encoding } = manifest;
  const bytes = TraceStore.traceBytes({ layers: arch.layers, hidden: arch.hidden, chunkSize: encoding.chunkSize, dtype: encoding.traceDtype }, tokens);
  try {
    store.hold(traceId, bytes);
  } catch (err) {
    // Another request for the same job got here first (between its checks and its claim).
    if (!(err instanceof TraceStoreFullError)) throw err instanceof TraceStoreError ? conflict : err;
    throw new ApiError(507, "trace_store_full", `no room for ${what}'s trace: ${bytes} bytes needed, ${err.usedBytes} of ${err.maxBytes} used and ${err.heldBytes} held for jobs admitted before it`, { cause: err });
  }
  let claimed = false;
  try {
    claimed = claim();
  } finally {
    if (!claimed) store.release(traceId);
  }
  if (!claimed) throw conflict;
}
