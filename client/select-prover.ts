import { getAddress, type Address, type Hex } from "viem";
import { listProverOffers, type ProverOffer } from "../protocol/chain/actions/listProverOffers.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { ClientError } from "./errors.js";

export type SelectProverParameters = {
  modelId: Hex;
  /** The prompt's length (openJob fixes it). */
  inputTokens: number;
  maxOutputTokens: number;
  /** Use this prover (it must have an active offer for the model). */
  prover?: Address;
  /** Skip candidates that fail this check (e.g. an unreachable endpoint), in ranking order. */
  probe?: (offer: ProverOffer) => Promise<boolean>;
};

/** The job's maximum cost at an offer's prices (what openJob escrows). */
export const maxCost = (o: Pick<ProverOffer, "inputPrice" | "outputPrice">, inputTokens: number, maxOut: number) => BigInt(inputTokens) * o.inputPrice + BigInt(maxOut) * o.outputPrice;

/**
 * Pick a prover for a model: the cheapest for this job's maximum token counts, ties broken by
 * the larger stake (more to lose). Provers with no free stake cannot lock collateral and are
 * skipped (openJob would revert).
 */
export async function selectProver(clients: StepproofClients, p: SelectProverParameters): Promise<ProverOffer> {
  const offers = (await listProverOffers(clients, { modelId: p.modelId })).filter((o) => o.freeStake > 0n);
  if (p.prover) {
    const wanted = getAddress(p.prover);
    const offer = offers.find((o) => o.prover === wanted);
    if (!offer) throw new ClientError(`prover ${wanted} has no active offer for model ${p.modelId}`);
    if (p.probe && !(await p.probe(offer))) throw new ClientError(`prover ${wanted} is not serving model ${p.modelId} at ${offer.endpoint}`);
    return offer;
  }
  const cost = (o: ProverOffer) => maxCost(o, p.inputTokens, p.maxOutputTokens);
  offers.sort((a, b) => (cost(a) < cost(b) ? -1 : cost(a) > cost(b) ? 1 : a.stake > b.stake ? -1 : a.stake < b.stake ? 1 : 0));
  if (offers.length === 0) throw new ClientError(`no registered prover offers model ${p.modelId}`);
  for (const offer of offers) if (!p.probe || (await p.probe(offer))) return offer;
  throw new ClientError(`none of the ${offers.length} provers offering model ${p.modelId} is reachable`);
}

/**
 * Before any money moves: the endpoint answers /healthz as this prover, for this model. A dead
 * or misregistered endpoint would otherwise lock the escrow until the commit deadline.
 */
export async function probeProver(offer: ProverOffer, modelId: Hex, timeoutMs = 5_000): Promise<boolean> {
  try {
    const res = await fetch(`${offer.endpoint.replace(/\/$/, "")}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return false;
    const h = (await res.json()) as { prover?: string; model?: string };
    return h.prover?.toLowerCase() === offer.prover.toLowerCase() && h.model?.toLowerCase() === modelId.toLowerCase();
  } catch {
    return false;
  }
}
