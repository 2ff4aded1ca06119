import { getAddress, type Address, type Hex } from "viem";
import { auditManagerAbi, jobEscrowAbi } from "../protocol/chain/generated/abi.js";
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
  /** Check that openJob would accept a job of these counts (jail, collateral, deterrence); default true. */
  checkCapacity?: boolean;
};

/** The job's maximum cost at an offer's prices (what openJob escrows). */
export const maxCost = (o: Pick<ProverOffer, "inputPrice" | "outputPrice">, inputTokens: number, maxOut: number) => BigInt(inputTokens) * o.inputPrice + BigInt(maxOut) * o.outputPrice;

/**
 * Pick a prover for a model: the cheapest for this job's maximum token counts, ties broken by
 * the larger stake (more to lose). Provers openJob would refuse are skipped: no free stake for the
 * collateral, jailed after a fraud, or a stake too small to deter cheating on one more job of
 * this size (PROTOCOL §9.4). A prover named explicitly gets the reason instead.
 */
export async function selectProver(clients: StepproofClients, p: SelectProverParameters): Promise<ProverOffer> {
  const offers = await listProverOffers(clients, { modelId: p.modelId });
  const refusal = p.checkCapacity === false ? async () => undefined : await refusalCheck(clients, p);
  if (p.prover) {
    const wanted = getAddress(p.prover);
    const offer = offers.find((o) => o.prover === wanted);
    if (!offer) throw new ClientError(`prover ${wanted} has no active offer for model ${p.modelId}`);
    const why = await refusal(offer);
    if (why) throw new ClientError(`prover ${wanted} cannot take this job: ${why}`);
    if (p.probe && !(await p.probe(offer))) throw new ClientError(`prover ${wanted} is not serving model ${p.modelId} at ${offer.endpoint}`);
    return offer;
  }
  if (offers.length === 0) throw new ClientError(`no registered prover offers model ${p.modelId}`);
  const eligible: ProverOffer[] = [];
  const reasons: string[] = [];
  for (const o of offers) {
    const why = await refusal(o);
    if (why) reasons.push(`${o.prover}: ${why}`);
    else eligible.push(o);
  }
  if (eligible.length === 0) throw new ClientError(`no prover of model ${p.modelId} can take this job`, { details: reasons.join("; ") });
  const cost = (o: ProverOffer) => maxCost(o, p.inputTokens, p.maxOutputTokens);
  eligible.sort((a, b) => (cost(a) < cost(b) ? -1 : cost(a) > cost(b) ? 1 : a.stake > b.stake ? -1 : a.stake < b.stake ? 1 : 0));
  for (const offer of eligible) if (!p.probe || (await p.probe(offer))) return offer;
  throw new ClientError(`none of the ${eligible.length} provers offering model ${p.modelId} is reachable`);
}

/** Why openJob would refuse a job of these counts with `offer`'s prover, or undefined. */
async function refusalCheck(clients: StepproofClients, p: SelectProverParameters): Promise<(offer: ProverOffer) => Promise<string | undefined>> {
  const { jobEscrow, auditManager } = clients.deployment.contracts;
  const now = (await clients.publicClient.getBlock()).timestamp;
  const params = await clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "params" });
  return async (o) => {
    if (now < o.jailedUntil) return `jailed until ${new Date(Number(o.jailedUntil) * 1000).toISOString()} after a proven fraud`;
    const cost = maxCost(o, p.inputTokens, p.maxOutputTokens);
    let collateral = (cost * BigInt(params.collateralBps)) / 10_000n;
    if (collateral < params.minCollateral) collateral = params.minCollateral;
    if (o.freeStake < collateral) return `free stake ${o.freeStake} cannot cover the collateral ${collateral}`;
    let limit: bigint;
    try {
      limit = await clients.publicClient.readContract({ address: auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [p.modelId, o.freeStake - collateral] });
    } catch {
      return `model ${p.modelId} has no verifier in its audit pool, so no job can open (PROTOCOL §9.4)`;
    }
    if (o.exposure + cost > limit) return `its open jobs (${o.exposure}) plus this one (${cost}) would exceed what its stake deters (${limit}, PROTOCOL §9.4)`;
    return undefined;
  };
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
