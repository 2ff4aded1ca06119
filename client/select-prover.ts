import { getAddress, type Address, type Hex } from "viem";
import { listProverOffers, type ProverOffer } from "../protocol/chain/actions/listProverOffers.js";
import { jobRefusal, readProverCapacity } from "../protocol/chain/actions/readProverCapacity.js";
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
  probe?: (offer: ProverOffer) => Promise<ProbeResult>;
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
    const probed = p.probe ? await p.probe(offer) : { ok: true as const };
    if (!probed.ok) throw new ProverUnavailableError(`prover ${wanted} cannot take the job now: ${probed.reason}`, probed);
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
  const refused: ProbeResult[] = [];
  for (const offer of eligible) {
    const probed = p.probe ? await p.probe(offer) : { ok: true as const };
    if (probed.ok) return offer;
    refused.push(probed);
    reasons.push(`${offer.prover}: ${probed.reason}`);
  }
  // Every candidate refused for now (busy, chain unreadable): the caller may wait and try again.
  const retryAfterSeconds = Math.min(...refused.map((r) => (!r.ok && r.retryAfterSeconds !== undefined ? r.retryAfterSeconds : Infinity)));
  throw new ProverUnavailableError(`none of the ${eligible.length} provers of model ${p.modelId} that could take this job is available now`, { ok: false, reason: reasons.join("; "), ...(Number.isFinite(retryAfterSeconds) ? { retryAfterSeconds } : {}) });
}

/** Why openJob would refuse a job of these counts with `offer`'s prover (read fresh from the chain), or undefined. */
async function refusalCheck(clients: StepproofClients, p: SelectProverParameters): Promise<(offer: ProverOffer) => Promise<string | undefined>> {
  return async (o) => {
    const capacity = await readProverCapacity(clients, { prover: o.prover, modelId: p.modelId });
    return (await jobRefusal(clients, capacity, maxCost(o, p.inputTokens, p.maxOutputTokens)))?.message;
  };
}

/** A probe's answer: the prover takes a job of this size now, or why not (and when to ask again). */
export type ProbeResult = { ok: true } | { ok: false; reason: string; retryAfterSeconds?: number };

/** Every candidate refused for now, or the named prover did: `retryAfterSeconds` when worth asking again. */
export class ProverUnavailableError extends ClientError {
  override name = "ProverUnavailableError";
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, probed: ProbeResult) {
    super(message, { details: probed.ok ? undefined : probed.reason });
    this.retryAfterSeconds = probed.ok ? undefined : probed.retryAfterSeconds;
  }
}

/**
 * Before any money moves: the endpoint answers /healthz as this prover, for this model, and
 * (given the job's counts) says it can take a job of that size now — its stake collateralises it
 * and its queue has room (PROTOCOL §5.6). A dead or misregistered endpoint would otherwise lock
 * the escrow until the commit deadline; a busy one would make the client pay for a job it
 * cannot serve yet.
 */
export async function probeProver(offer: ProverOffer, modelId: Hex, options: { timeoutMs?: number; inputTokens?: number; maxTokens?: number } = {}): Promise<ProbeResult> {
  const sized = options.inputTokens !== undefined && options.maxTokens !== undefined ? `?input_tokens=${options.inputTokens}&max_tokens=${options.maxTokens}` : "";
  try {
    const res = await fetch(`${offer.endpoint.replace(/\/$/, "")}/healthz${sized}`, { signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) });
    const body = (await res.json().catch(() => ({}))) as { prover?: string; model?: string; error?: { message?: string; code?: string } };
    if (!res.ok) {
      // A node that cannot read the chain now (503 unhealthy) may in a moment: worth asking again.
      const retry = Number(res.headers.get("retry-after")) || (res.status === 503 && body.error?.code === "unhealthy" ? TRANSIENT_RETRY_SECONDS : 0);
      return { ok: false, reason: `${res.status} ${body.error?.code ?? ""}: ${body.error?.message ?? "unhealthy"}`.replace(" :", ":"), ...(retry > 0 ? { retryAfterSeconds: retry } : {}) };
    }
    if (body.prover?.toLowerCase() !== offer.prover.toLowerCase() || body.model?.toLowerCase() !== modelId.toLowerCase()) {
      return { ok: false, reason: `the endpoint ${offer.endpoint} serves prover ${body.prover} and model ${body.model}, not this offer` };
    }
    return { ok: true };
  } catch (err) {
    // Too slow to answer (an overloaded node) is worth asking again; refused or unresolvable is not.
    const slow = (err as Error).name === "TimeoutError";
    return { ok: false, reason: `${slow ? "no answer in time" : "not serving"} at ${offer.endpoint} (${(err as Error).message})`, ...(slow ? { retryAfterSeconds: TRANSIENT_RETRY_SECONDS } : {}) };
  }
}

/** Wait before probing again a node that timed out or could not read the chain (s). */
const TRANSIENT_RETRY_SECONDS = 2;
