import type { Address, Hex } from "viem";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";

export type ReadProverCapacityParameters = { prover: Address; modelId: Hex };

/**
 * What bounds the jobs a prover can take now (PROTOCOL §5.3, §9.4): every open or committed job
 * locks its collateral until it settles, and the escrow of all of them (`exposure`) must stay
 * within what the prover's free stake deters.
 */
export type ProverCapacity = {
  prover: Address;
  modelId: Hex;
  stake: bigint;
  locked: bigint;
  /** stake − locked: what the next job's collateral comes from. */
  freeStake: bigint;
  minProverStake: bigint;
  /** 0 if never jailed; no job opens before it (a fraud slash jails, §9.4). */
  jailedUntil: bigint;
  /** Escrow of the prover's Open and Committed jobs (JobEscrow.exposure). */
  exposure: bigint;
  /** exposureLimit(model, freeStake − minCollateral): the limit once the smallest job's collateral is locked; null while the model's audit pool is empty (no job can open). */
  exposureLimit: bigint | null;
  /** The largest escrow one more job may have now (0 when none fits). */
  maxJobEscrow: bigint;
  minCollateral: bigint;
  collateralBps: number;
  /** Chain time the figures were read at. */
  now: bigint;
};

/** Why openJob would refuse a job; `code` is also the prover's HTTP error code (PROTOCOL §5.6). */
export type JobRefusal = { code: "jailed" | "insufficient_stake" | "insufficient_deterrence" | "no_auditors"; message: string };

/** The collateral openJob locks for a job escrowing `escrow` (PROTOCOL §5.3). */
export const collateralFor = (c: Pick<ProverCapacity, "minCollateral" | "collateralBps">, escrow: bigint): bigint => {
  const k = (escrow * BigInt(c.collateralBps)) / 10_000n;
  return k < c.minCollateral ? c.minCollateral : k;
};

/** Read a prover's stake, locks, jail, exposure and deterrence limit for one model. */
export async function readProverCapacity(clients: StepproofClients, p: ReadProverCapacityParameters): Promise<ProverCapacity> {
  const { nodeRegistry, jobEscrow, auditManager } = clients.deployment.contracts;
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  const [node, minProverStake, exposure, params, block] = await Promise.all([
    read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [p.prover] }),
    read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "minProverStake" }),
    read({ address: jobEscrow, abi: jobEscrowAbi, functionName: "exposure", args: [p.prover] }),
    read({ address: jobEscrow, abi: jobEscrowAbi, functionName: "params" }),
    clients.publicClient.getBlock({ blockTag: "latest" }),
  ]);
  const freeStake = node.stake - node.locked;
  const minCollateral = BigInt(params.minCollateral);
  const afterMin = freeStake > minCollateral ? freeStake - minCollateral : 0n;
  const exposureLimit = await read({ address: auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [p.modelId, afterMin] }).catch(() => null);
  const c: ProverCapacity = {
    prover: p.prover,
    modelId: p.modelId,
    stake: node.stake,
    locked: node.locked,
    freeStake,
    minProverStake,
    jailedUntil: node.jailedUntil,
    exposure,
    exposureLimit,
    maxJobEscrow: 0n,
    minCollateral,
    collateralBps: params.collateralBps,
    now: block.timestamp,
  };
  c.maxJobEscrow = maxJobEscrow(c);
  return c;
}

/**
 * The largest escrow E with exposure + E ≤ limit(free − K(E)). With the minimum collateral it is
 * limit − exposure; a job whose proportional collateral exceeds the minimum frees less stake, and
 * since the limit is linear in free stake (λ·F) the bound is then (λ·free − exposure)/(1 + λ·bps).
 */
function maxJobEscrow(c: ProverCapacity): bigint {
  if (c.exposureLimit === null || c.freeStake < c.minCollateral || c.now < c.jailedUntil || c.stake < c.minProverStake) return 0n;
  const small = c.exposureLimit > c.exposure ? c.exposureLimit - c.exposure : 0n;
  if (collateralFor(c, small) <= c.minCollateral) return small;
  const afterMin = c.freeStake - c.minCollateral;
  if (afterMin === 0n) return 0n;
  // λ = limit / afterMin, in 1e18 fixed point.
  const lambda = (c.exposureLimit * 10n ** 18n) / afterMin;
  const numerator = (lambda * c.freeStake) / 10n ** 18n - c.exposure;
  if (numerator <= 0n) return 0n;
  return (numerator * 10n ** 18n) / (10n ** 18n + (lambda * BigInt(c.collateralBps)) / 10_000n);
}

/**
 * Whether openJob would accept a job escrowing `escrow` with this prover, as of the capacity `c`
 * (the deterrence limit is read again only for a job whose collateral is above the minimum, which
 * `c` was read at); undefined when it would. The checks are the contract's own, in its order.
 */
export async function jobRefusal(clients: StepproofClients, c: ProverCapacity, escrow: bigint): Promise<JobRefusal | undefined> {
  if (c.now < c.jailedUntil) return { code: "jailed", message: `jailed until ${new Date(Number(c.jailedUntil) * 1000).toISOString()} after a proven fraud` };
  if (c.stake < c.minProverStake) return { code: "insufficient_stake", message: `stake ${c.stake} is below the minimum prover stake ${c.minProverStake}` };
  const collateral = collateralFor(c, escrow);
  if (c.freeStake < collateral) {
    return { code: "insufficient_stake", message: `free stake ${c.freeStake} cannot cover the collateral ${collateral} (${c.locked} locked by unsettled jobs; PROTOCOL §9.4 sizing: stake ≥ open jobs × collateral + what deters their escrow)` };
  }
  // Most jobs lock the minimum collateral: the limit `c` holds was read at exactly that free stake.
  const limit =
    collateral === c.minCollateral
      ? c.exposureLimit
      : await clients.publicClient.readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [c.modelId, c.freeStake - collateral] }).catch(() => null);
  if (limit === null) return { code: "no_auditors", message: `model ${c.modelId} has no verifier in its audit pool, so no job can open (PROTOCOL §9.4)` };
  if (c.exposure + escrow > limit) {
    return { code: "insufficient_deterrence", message: `its open jobs' escrow (${c.exposure}) plus this one (${escrow}) would exceed what its free stake deters (${limit}, PROTOCOL §9.4)` };
  }
  return undefined;
}
