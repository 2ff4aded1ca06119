import type { Address, Chain, Hex, PublicClient, Transport } from "viem";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi, stepProofGameAbi, testTokenAbi, traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import type { Deployment } from "../../protocol/chain/deployments.js";

/**
 * Current values that view functions return, for the entities the ledger knows: read fresh for
 * every snapshot (batched into a few JSON-RPC requests by the transport), so nothing the page
 * shows as "now" is reconstructed from logs.
 */

export type ProverState = { stake: bigint; locked: bigint; unbonding: bigint; jailedUntil: bigint; endpoint: string; free: bigint; exposure: bigint; limits: Map<string, bigint> };
export type VerifierState = { stake: bigint; locked: bigint; bond: bigint; misses: number; ejectedBlock: number; unclaimed: bigint; releaseAfter: number; pools: string[] };
export type LiveDispute = { phase: number; proverClockLeft: bigint; challengerClockLeft: bigint; turnStartedAt: bigint; deadline: bigint; roundsUsed: number };
export type ContractBooks = { contract: string; holds: bigint; owes: bigint };

export type ChainState = {
  head: bigint;
  headTime: bigint;
  provers: Map<string, ProverState>;
  verifiers: Map<string, VerifierState>;
  models: Map<string, { auditRateBps: number; detection: number }>;
  audits: Map<bigint, { state: number; auditor: Address; deadline: bigint; pay: bigint; vestsAt: bigint }>;
  disputes: Map<string, LiveDispute>;
  params: { feeBps: number; auditFeeBps: number; challengeWindow: number; commitTimeout: number; auditRateBps: number; boundaries: number; slashShareBps: number; jailPeriod: number; auditPeriod: number; vestDelay: number };
  treasury: { address: Address; wallet: bigint; escrowCredit: bigint; registryCredit: bigint };
  auditPool: bigint;
  auditReserved: bigint;
  totalEscrowed: bigint;
  totalStaked: bigint;
  totalUnbonding: bigint;
  /** What each custodial contract holds and owes (PROTOCOL §5.1, §7.4, §8.1, §9.2). */
  books: ContractBooks[];
};

export type ReadStateParameters = {
  provers: { address: Address; models: string[] }[];
  verifiers: Address[];
  models: string[];
  /** Jobs whose audit may still change (Pending, Assigned, Agreed → Paid). */
  auditJobs: bigint[];
  /** Step disputes still being played: their clocks. */
  liveDisputes: Hex[];
  /** At this block, so every value of one snapshot is from the same state. */
  blockNumber: bigint;
};

export type TokenInfo = { symbol: string; decimals: number };

/** The payment token's symbol and decimals; a token without the optional metadata shows as 18-decimal "tokens". */
export async function readTokenInfo(client: PublicClient<Transport, Chain>, deployment: Deployment): Promise<TokenInfo> {
  const address = deployment.contracts.token;
  const [symbol, decimals] = await Promise.all([
    client.readContract({ address, abi: testTokenAbi, functionName: "symbol" }).catch(() => "tokens"),
    client.readContract({ address, abi: testTokenAbi, functionName: "decimals" }).catch(() => 18),
  ]);
  return { symbol, decimals: Number(decimals) };
}

export async function readState(client: PublicClient<Transport, Chain>, deployment: Deployment, p: ReadStateParameters): Promise<ChainState> {
  const c = deployment.contracts;
  const at = { blockNumber: p.blockNumber };
  const read = client.readContract.bind(client) as (args: object) => Promise<unknown>;
  const r = <T>(address: Address, abi: readonly unknown[], functionName: string, args: readonly unknown[] = []) => read({ address, abi, functionName, args, ...at }) as Promise<T>;
  const balance = (who: Address) => r<bigint>(c.token, testTokenAbi, "balanceOf", [who]);

  const [block, escrowParams, auditParams, treasury] = await Promise.all([
    client.getBlock(at),
    r<{ feeBps: number; challengeWindow: number; commitTimeout: number }>(c.jobEscrow, jobEscrowAbi, "params"),
    r<{ auditRateBps: number; boundaries: number; slashShareBps: number; jailPeriod: number; auditFeeBps: number; auditPeriod: number; vestDelay: number }>(c.auditManager, auditManagerAbi, "params"),
    r<Address>(c.jobEscrow, jobEscrowAbi, "treasury"),
  ]);

  const proverEntries = Promise.all(
    p.provers.map(async ({ address, models }) => {
      const [node, free, exposure] = await Promise.all([
        r<{ stake: bigint; locked: bigint; unbonding: bigint; jailedUntil: bigint; endpoint: string }>(c.nodeRegistry, nodeRegistryAbi, "getNode", [address]),
        r<bigint>(c.nodeRegistry, nodeRegistryAbi, "freeStake", [address]),
        r<bigint>(c.jobEscrow, jobEscrowAbi, "exposure", [address]),
      ]);
      // The limit its next job must stay under at today's free stake (AuditManager.exposureLimit, PROTOCOL §9.4).
      const limits = await Promise.all(models.map(async (m) => [m, await r<bigint>(c.auditManager, auditManagerAbi, "exposureLimit", [m, free]).catch(() => 0n)] as const));
      return [address.toLowerCase(), { stake: node.stake, locked: node.locked, unbonding: node.unbonding, jailedUntil: node.jailedUntil, endpoint: node.endpoint, free, exposure, limits: new Map(limits) }] as const;
    }),
  );
  const verifierEntries = Promise.all(
    p.verifiers.map(async (address) => {
      const [node, auditor, pools] = await Promise.all([
        r<{ stake: bigint; locked: bigint }>(c.nodeRegistry, nodeRegistryAbi, "getNode", [address]),
        r<{ bond: bigint; misses: number; ejectedBlock: number; unclaimed: bigint; releaseAfter: number }>(c.auditManager, auditManagerAbi, "getAuditor", [address]),
        r<readonly Hex[]>(c.auditManager, auditManagerAbi, "modelsOf", [address]),
      ]);
      return [address.toLowerCase(), { stake: node.stake, locked: node.locked, bond: auditor.bond, misses: auditor.misses, ejectedBlock: Number(auditor.ejectedBlock), unclaimed: auditor.unclaimed, releaseAfter: Number(auditor.releaseAfter), pools: pools.map((m) => m.toLowerCase()) }] as const;
    }),
  );
  const modelEntries = Promise.all(
    p.models.map(async (m) => {
      const [rate, [num, den]] = await Promise.all([r<number>(c.auditManager, auditManagerAbi, "auditRateOf", [m]), r<readonly [bigint, bigint]>(c.auditManager, auditManagerAbi, "detectionProbability", [m])]);
      return [m, { auditRateBps: Number(rate), detection: den === 0n ? 0 : Number(num) / Number(den) }] as const;
    }),
  );
  const auditEntries = Promise.all(
    p.auditJobs.map(async (jobId) => {
      const a = await r<{ state: number; auditor: Address; deadline: number; pay: bigint; vestsAt: number }>(c.auditManager, auditManagerAbi, "getAudit", [jobId]);
      return [jobId, { state: Number(a.state), auditor: a.auditor, deadline: BigInt(a.deadline), pay: a.pay, vestsAt: BigInt(a.vestsAt) }] as const;
    }),
  );
  const disputeEntries = Promise.all(
    p.liveDisputes.map(async (id) => {
      const [d, deadline] = await Promise.all([
        r<{ phase: number; proverClockLeft: bigint; challengerClockLeft: bigint; turnStartedAt: bigint; roundsUsed: number }>(c.stepProofGame, stepProofGameAbi, "getDispute", [id]),
        r<bigint>(c.stepProofGame, stepProofGameAbi, "deadlineOf", [id]).catch(() => 0n),
      ]);
      return [id.toLowerCase(), { phase: Number(d.phase), proverClockLeft: d.proverClockLeft, challengerClockLeft: d.challengerClockLeft, turnStartedAt: d.turnStartedAt, deadline, roundsUsed: Number(d.roundsUsed) }] as const;
    }),
  );
  const [books, auditPool, auditReserved, totalEscrowed, totalStaked, totalUnbonding, treasuryWallet, treasuryEscrowCredit, treasuryRegistryCredit] = await Promise.all([
    readBooks(deployment, r, balance),
    r<bigint>(c.jobEscrow, jobEscrowAbi, "auditPool"),
    r<bigint>(c.auditManager, auditManagerAbi, "reserved"),
    r<bigint>(c.jobEscrow, jobEscrowAbi, "totalEscrowed"),
    r<bigint>(c.nodeRegistry, nodeRegistryAbi, "totalStaked"),
    r<bigint>(c.nodeRegistry, nodeRegistryAbi, "totalUnbonding"),
    balance(treasury),
    r<bigint>(c.jobEscrow, jobEscrowAbi, "credits", [treasury]),
    r<bigint>(c.nodeRegistry, nodeRegistryAbi, "credits", [treasury]),
  ]);

  return {
    head: block.number,
    headTime: block.timestamp,
    provers: new Map(await proverEntries),
    verifiers: new Map(await verifierEntries),
    models: new Map(await modelEntries),
    audits: new Map(await auditEntries),
    disputes: new Map(await disputeEntries),
    params: {
      feeBps: Number(escrowParams.feeBps),
      challengeWindow: Number(escrowParams.challengeWindow),
      commitTimeout: Number(escrowParams.commitTimeout),
      auditFeeBps: Number(auditParams.auditFeeBps),
      auditRateBps: Number(auditParams.auditRateBps),
      boundaries: Number(auditParams.boundaries),
      slashShareBps: Number(auditParams.slashShareBps),
      jailPeriod: Number(auditParams.jailPeriod),
      auditPeriod: Number(auditParams.auditPeriod),
      vestDelay: Number(auditParams.vestDelay),
    },
    treasury: { address: treasury, wallet: treasuryWallet, escrowCredit: treasuryEscrowCredit, registryCredit: treasuryRegistryCredit },
    auditPool,
    auditReserved,
    totalEscrowed,
    totalStaked,
    totalUnbonding,
    books,
  };
}

/** Each custodial contract's token balance against what it owes (the solvency equations). */
async function readBooks(deployment: Deployment, r: <T>(address: Address, abi: readonly unknown[], fn: string, args?: readonly unknown[]) => Promise<T>, balance: (a: Address) => Promise<bigint>): Promise<ContractBooks[]> {
  const c = deployment.contracts;
  const sum = async (...xs: Promise<bigint>[]) => (await Promise.all(xs)).reduce((s, x) => s + x, 0n);
  const [escrow, registry, game, availability] = await Promise.all([
    Promise.all([balance(c.jobEscrow), sum(r(c.jobEscrow, jobEscrowAbi, "totalEscrowed"), r(c.jobEscrow, jobEscrowAbi, "totalCredits"), r(c.jobEscrow, jobEscrowAbi, "auditPool"))]),
    Promise.all([balance(c.nodeRegistry), sum(r(c.nodeRegistry, nodeRegistryAbi, "totalStaked"), r(c.nodeRegistry, nodeRegistryAbi, "totalUnbonding"), r(c.nodeRegistry, nodeRegistryAbi, "totalCredits"))]),
    Promise.all([balance(c.stepProofGame), sum(r(c.stepProofGame, stepProofGameAbi, "bondsHeld"), r(c.stepProofGame, stepProofGameAbi, "feesHeld"), r(c.stepProofGame, stepProofGameAbi, "totalCredits"))]),
    Promise.all([balance(c.traceAvailability), sum(r(c.traceAvailability, traceAvailabilityAbi, "feesHeld"), r(c.traceAvailability, traceAvailabilityAbi, "totalCredits"))]),
  ]);
  return [
    { contract: "JobEscrow", holds: escrow[0], owes: escrow[1] },
    { contract: "NodeRegistry", holds: registry[0], owes: registry[1] },
    { contract: "StepProofGame", holds: game[0], owes: game[1] },
    { contract: "TraceAvailability", holds: availability[0], owes: availability[1] },
  ];
}
