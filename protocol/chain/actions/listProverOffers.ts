import { getAbiItem, type Address, type Hex } from "viem";
import { nodeRegistryAbi } from "../generated/abi.js";
import { blockRanges } from "../logs-in-ranges.js";
import type { StepproofClients } from "../client.js";

export type ListProverOffersParameters = {
  modelId: Hex;
  /** Log scan range per request; public RPCs cap eth_getLogs ranges (default 10,000 blocks). */
  blockRange?: bigint;
};

export type ProverOffer = {
  prover: Address;
  endpoint: string;
  inputPrice: bigint;
  outputPrice: bigint;
  stake: bigint;
  freeStake: bigint;
  /** No new job before this time (a fraud slash jails, PROTOCOL §9.4); 0 if never jailed. */
  jailedUntil: bigint;
};

/**
 * Provers with an active offer for `modelId`. NodeRegistry does not enumerate offers, so the
 * candidates come from OfferSet logs since the deployment block; each candidate's offer, stake
 * and endpoint are then read from current state (logs only nominate, state decides).
 */
export async function listProverOffers(clients: StepproofClients, p: ListProverOffersParameters): Promise<ProverOffer[]> {
  const address = clients.deployment.contracts.nodeRegistry;
  const head = await clients.publicClient.getBlockNumber();
  const candidates = new Set<Address>();
  const event = getAbiItem({ abi: nodeRegistryAbi, name: "OfferSet" });
  for (const [from, to] of blockRanges(BigInt(clients.deployment.startBlock), head, p.blockRange ?? 10_000n)) {
    const logs = await clients.publicClient.getLogs({ address, event, args: { modelId: p.modelId }, fromBlock: from, toBlock: to });
    for (const log of logs) if (log.args.prover) candidates.add(log.args.prover);
  }
  const offers: ProverOffer[] = [];
  for (const prover of candidates) {
    const offer = await clients.publicClient.readContract({ address, abi: nodeRegistryAbi, functionName: "getOffer", args: [prover, p.modelId] });
    if (!offer.active) continue;
    const node = await clients.publicClient.readContract({ address, abi: nodeRegistryAbi, functionName: "getNode", args: [prover] });
    if (node.role !== 1) continue; // Prover
    const freeStake = await clients.publicClient.readContract({ address, abi: nodeRegistryAbi, functionName: "freeStake", args: [prover] });
    offers.push({ prover, endpoint: node.endpoint, inputPrice: offer.inputPrice, outputPrice: offer.outputPrice, stake: node.stake, freeStake, jailedUntil: node.jailedUntil });
  }
  return offers;
}
