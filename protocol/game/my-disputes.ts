import { parseAbiItem, type Address, type Hex } from "viem";
import type { StepproofClients } from "../chain/client.js";

const disputeOpened = parseAbiItem("event DisputeOpened(bytes32 indexed disputeId, uint256 indexed jobId, address indexed challenger, uint32 position, uint32 layer, uint128 bond)");

/**
 * Ids of disputes opened by `challenger`, or against jobs in `jobIds` (a prover's), from the
 * game's logs since the deployment. Which of them are live is read from chain by the caller.
 */
export async function listDisputes(clients: StepproofClients, filter: { challenger: Address } | { jobIds: readonly bigint[] }): Promise<{ id: Hex; jobId: bigint }[]> {
  if ("jobIds" in filter && filter.jobIds.length === 0) return [];
  const logs = await clients.publicClient.getLogs({
    address: clients.deployment.contracts.stepProofGame,
    event: disputeOpened,
    args: "challenger" in filter ? { challenger: filter.challenger } : { jobId: [...filter.jobIds] },
    fromBlock: BigInt(clients.deployment.startBlock),
    toBlock: "latest",
  });
  return logs.map((l) => ({ id: l.args.disputeId!, jobId: l.args.jobId! }));
}
