import type { StepproofClients } from "../client.js";

/**
 * The chain's clock: the latest block's timestamp, what every contract deadline (commit, decline
 * window, challenge window, voucher expiry) is judged against. Not the node's wall clock: a dev
 * chain that mines on demand can show a head far behind it, and an L2's sequencer clock can run
 * a little ahead. Callers that must not act too late take the later of the two themselves
 * (prover-node/serve/decline-policy.ts).
 */
export async function getChainTime(clients: Pick<StepproofClients, "publicClient">): Promise<bigint> {
  return (await clients.publicClient.getBlock({ blockTag: "latest" })).timestamp;
}
