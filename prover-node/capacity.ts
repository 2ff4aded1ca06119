import type { Address, Hex } from "viem";
import { jobRefusal, readProverCapacity, type ProverCapacity } from "../protocol/chain/actions/readProverCapacity.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { ApiError } from "./errors.js";
import type { ProverMetrics } from "./metrics.js";

/** How long one chain read of the capacity serves /healthz probes (ms): clients probe before every job. */
const CACHE_MS = 1_000;
/** How stale a read may be before a refusal is confirmed by a fresh one (ms): bounds the reads a stream of refused probes costs. */
const REFUSAL_RECHECK_MS = 100;

/**
 * What this prover's stake lets it take now (PROTOCOL §9.4), for /healthz, /metrics and the
 * log: free stake, locked collateral, exposure and the limit its stake deters. Stake caps the
 * jobs a prover can have open, and issue #15 found provers hitting the cap with nothing saying so.
 */
export class CapacityView {
  #cached: { at: number; value: Promise<ProverCapacity> } | undefined;
  #warned = false;

  constructor(
    readonly clients: StepproofClients,
    readonly prover: Address,
    readonly modelId: Hex,
    readonly prices: { input: bigint; output: bigint },
    readonly metrics: ProverMetrics,
    readonly log: { warn(o: object, m: string): void },
  ) {}

  /** The capacity as of at most a second ago (one chain read shared by concurrent callers). */
  current(): Promise<ProverCapacity> {
    if (this.#cached && performance.now() - this.#cached.at < CACHE_MS) return this.#cached.value;
    const value = readProverCapacity(this.clients, { prover: this.prover, modelId: this.modelId });
    this.#cached = { at: performance.now(), value };
    value.then((c) => this.#record(c)).catch(() => (this.#cached = undefined));
    return value;
  }

  /** Read afresh (the loop, once a pass) and update the gauges. */
  async refresh(): Promise<ProverCapacity> {
    this.#cached = undefined;
    return this.current();
  }

  /**
   * Throws a 503 ApiError when openJob would refuse a job of these counts at this node's prices
   * now: the code says why (`insufficient_stake`, `insufficient_deterrence`, `jailed`, `no_auditors`).
   * No Retry-After: stake frees up only as jobs settle, a challenge window away.
   */
  async refuseUnlessTakes(inputTokens: number, maxTokens: number): Promise<void> {
    const escrow = BigInt(inputTokens) * this.prices.input + BigInt(maxTokens) * this.prices.output;
    const cached = await this.current();
    let refusal = await jobRefusal(this.clients, cached, escrow);
    // A refusal turns the client away without a retry, so it must not rest on a stale read (a
    // jail that just ended, stake just added): re-read when the read is older than
    // REFUSAL_RECHECK_MS or the chain has moved on since it (a new block can end a jail at once;
    // a flood of refused probes costs one head read each and a re-read per block at most).
    if (refusal) {
      const old = !this.#cached || performance.now() - this.#cached.at >= REFUSAL_RECHECK_MS;
      const head = old ? undefined : await this.clients.publicClient.getBlock({ blockTag: "latest" }).catch(() => undefined);
      if (old || (head !== undefined && head.timestamp !== cached.now)) refusal = await jobRefusal(this.clients, await this.refresh(), escrow);
    }
    if (refusal) throw new ApiError(503, refusal.code, `prover ${this.prover} cannot take a job of ${inputTokens} + ${maxTokens} tokens now: ${refusal.message}`);
  }

  #record(c: ProverCapacity): void {
    const m = this.metrics;
    m.stake.set(Number(c.stake));
    m.freeStake.set(Number(c.freeStake));
    m.locked.set(Number(c.locked));
    m.exposure.set(Number(c.exposure));
    m.exposureLimit.set(c.exposureLimit === null ? -1 : Number(c.exposureLimit));
    m.maxJobEscrow.set(Number(c.maxJobEscrow));
    m.jailed.set(c.now < c.jailedUntil ? 1 : 0);
    // Say it once per episode, not per probe: the node takes no new job until stake frees up.
    const smallest = this.prices.input + this.prices.output;
    const full = c.maxJobEscrow < smallest;
    if (full && !this.#warned) {
      this.log.warn({ freeStake: c.freeStake.toString(), locked: c.locked.toString(), exposure: c.exposure.toString(), exposureLimit: c.exposureLimit?.toString() ?? null }, "stake cannot collateralise another job: clients are refused until open jobs settle or more is staked (PROTOCOL §9.4)");
    }
    this.#warned = full;
  }
}

/** The capacity as /healthz shows it (decimal strings: base units exceed JS numbers). */
export function capacityJson(c: ProverCapacity) {
  return {
    stake: c.stake.toString(),
    freeStake: c.freeStake.toString(),
    locked: c.locked.toString(),
    exposure: c.exposure.toString(),
    exposureLimit: c.exposureLimit?.toString() ?? null,
    maxJobEscrow: c.maxJobEscrow.toString(),
    jailedUntil: c.jailedUntil > c.now ? c.jailedUntil.toString() : null,
  };
}
