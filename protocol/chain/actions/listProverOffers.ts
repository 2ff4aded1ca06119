import { getAbiItem, type Address, type Hex } from "viem";
import { jobEscrowAbi, nodeRegistryAbi } from "../generated/abi.js";
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
  /** Escrow of the prover's open and committed jobs (JobEscrow.exposure, PROTOCOL §9.4). */
  exposure: bigint;
};

/**
 * Provers with an active offer for `modelId`. NodeRegistry does not enumerate offers, so the
 * candidates come from OfferSet logs since the deployment block; each candidate's offer, stake
 * and endpoint are then read from current state (logs only nominate, state decides).
 */
export async function listProverOffers(clients: StepproofClients, p: ListProverOffersParameters): Promise<ProverOffer[]> {
  const address = clients.deployment.contracts.nodeRegistry;
  const head = await clients.publicClient.getBlockNumber();
  const step = p.blockRange ?? 10_000n;
  const candidates = new Set<Address>();
  const event = getAbiItem({ abi: nodeRegistryAbi, name: "OfferSet" });
  for (let from = BigInt(clients.deployment.startBlock); from <= head; from += step) {
    const to = from + step - 1n < head ? from + step - 1n : head;
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
    const exposure = await clients.publicClient.readContract({ address: clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "exposure", args: [prover] });
    offers.push({ prover, endpoint: node.endpoint, inputPrice: offer.inputPrice, outputPrice: offer.outputPrice, stake: node.stake, freeStake, jailedUntil: node.jailedUntil, exposure });
  }
  return offers;
}
