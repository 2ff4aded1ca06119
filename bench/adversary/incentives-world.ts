/**
 * What the incentive attacks (PROTOCOL §9) need around the adversary world: more models with
 * the same weights but their own audit pools and rates, a corrupted job and its proof, reverts
 * by name, and the chain's books (stake, credits, audits, the slash and its reward) read back
 * from the contracts and their events.
 */
import { createTestClient, http, keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { joinAuditPools } from "../../protocol/chain/actions/audits.js";
import { sendContractTransaction, TransactionError } from "../../protocol/chain/actions/send.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { bumpElement, locate } from "./cheats.js";
import { ENC, honestData, openAndCommit, promptOf, TOLERANCES, type ProverRole, type Role, type World } from "./env.js";
import { playDispute, type PlayOutcome } from "./play.js";

export const P = 2; // prompt tokens
export const NEW = 6; // generated tokens: N = 8 positions
export const PRICE = parseEther("0.001");

export const addressOf = (w: World, role: Role): Address => w.as[role].walletClient!.account.address;
const contracts = (w: World) => w.as.governance.deployment.contracts;
const read = (w: World) => w.as.governance.publicClient.readContract.bind(w.as.governance.publicClient);

/**
 * The revert's custom error and its arguments, or no name when the call went through: attacks
 * expect a named rule to stop them, and anything else (a success, another error) is reported.
 */
export async function revertWith<T>(send: () => Promise<T>): Promise<{ name?: string; args: readonly unknown[]; value?: T }> {
  try {
    return { args: [], value: await send() };
  } catch (err) {
    if (err instanceof TransactionError) return { name: err.revertName ?? "reverted", args: err.revertArgs ?? [] };
    throw err;
  }
}

export const revertOf = async (send: () => Promise<unknown>): Promise<string | undefined> => (await revertWith(send)).name;

/** Governance sends `functionName` to the AuditManager. */
export async function asGovernance(w: World, functionName: string, args: readonly unknown[]): Promise<void> {
  await sendContractTransaction(w.as.governance, { address: contracts(w).auditManager, abi: auditManagerAbi, functionName, args, what: `governance: ${functionName}` });
}

/**
 * Register another model with the world's weights (so every trace of the world fits it), with
 * its own audit pool (`pool` joins it) and rate (`auditRateBps`, default: the protocol's), and
 * offers from `provers` at the world's price.
 */
export async function registerModelCopy(w: World, p: { name: string; pool: Role[]; provers: ProverRole[]; auditRateBps?: number }): Promise<Hex> {
  const modelId = keccak256(toHex(`stepproof-adversary-${p.name}`));
  await registerModel(w.as.governance, { modelId, weightsRoot: w.model.weightsTree.root, manifestHash: keccak256(toHex(`adversary manifest ${p.name}`)), architecture: w.model.arch, encoding: ENC, tolerances: TOLERANCES });
  for (const role of p.provers) await registerNode(w.as[role], { role: "prover", stake: 0n, endpoint: "", offers: [{ modelId, inputPrice: PRICE, outputPrice: PRICE }] });
  for (const role of p.pool) await joinAuditPools(w.as[role], [modelId]);
  if (p.auditRateBps !== undefined) await asGovernance(w, "setModelAuditRate", [modelId, p.auditRateBps]);
  return modelId;
}

export type CorruptedJob = { jobId: bigint; committed: DisputeData; step: { position: number; layer: number } };

/** The demo's corruption (+0.5 on one element of h[3][2]) committed by `prover`; `step` is where it is provable. */
export async function commitCorrupted(w: World, p: { seed: number; prover?: ProverRole; modelId?: Hex; client?: Role }): Promise<CorruptedJob> {
  const prompt = promptOf(p.seed, P);
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  const jobId = await openAndCommit(w, { prover: p.prover ?? "cheater", prompt, data: committed, ...(p.modelId ? { modelId: p.modelId } : {}), ...(p.client ? { client: p.client } : {}) });
  const step = locate(committed, { inputTokens: P, samplingParams: 0n });
  if (!step) throw new Error(`job ${jobId}: the corruption is not provable`);
  return { jobId, committed, step };
}

/** `challenger` disputes the corrupted step and plays it to the end (the prover answers from what it committed). */
export function proveCorruption(w: World, job: CorruptedJob, challenger: Role, opened?: Hex, prover: ProverRole = "cheater"): Promise<PlayOutcome> {
  return playDispute(w, { jobId: job.jobId, ...job.step, ...(opened ? { opened } : {}), prover: { role: prover, disk: () => ({ data: job.committed }) }, challenger: { role: challenger, data: job.committed } });
}

export async function nodeOf(w: World, who: Address) {
  return read(w)({ address: contracts(w).nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [who] });
}

/** Credits `who` holds in the NodeRegistry (slash rewards land there). */
export async function registryCredits(w: World, who: Address): Promise<bigint> {
  return read(w)({ address: contracts(w).nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [who] });
}

/** Credits `who` holds in the escrow (prover pay, refunds, audit pay). */
export async function escrowCredits(w: World, who: Address): Promise<bigint> {
  return read(w)({ address: contracts(w).jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [who] });
}

export async function auditOf(w: World, jobId: bigint) {
  return read(w)({ address: contracts(w).auditManager, abi: auditManagerAbi, functionName: "getAudit", args: [jobId] });
}

export async function auditorOf(w: World, who: Address) {
  return read(w)({ address: contracts(w).auditManager, abi: auditManagerAbi, functionName: "getAuditor", args: [who] });
}

/** What the job's slash took and where its reward went (JobSlashed, SlashRewardPaid). */
export async function slashOf(w: World, jobId: bigint): Promise<{ slashed: bigint; reward: bigint; paidTo?: Address; paidSeq?: number }> {
  const pc = w.as.governance.publicClient;
  const range = { address: contracts(w).jobEscrow, abi: jobEscrowAbi, args: { jobId }, fromBlock: BigInt(w.as.governance.deployment.startBlock), toBlock: "latest" } as const;
  const [slash] = await pc.getContractEvents({ ...range, eventName: "JobSlashed" });
  const [paid] = await pc.getContractEvents({ ...range, eventName: "SlashRewardPaid" });
  return {
    slashed: slash?.args.slashed ?? 0n,
    reward: slash?.args.reward ?? 0n,
    ...(paid ? { paidTo: paid.args.challenger!, paidSeq: paid.args.seq! } : {}),
  };
}

/** Who a role is, for outcomes: the role name when `who` is one of the world's accounts. */
export function roleOf(w: World, who: Address | undefined): string {
  if (!who) return "nobody";
  const hit = (Object.keys(w.as) as Role[]).find((r) => addressOf(w, r).toLowerCase() === who.toLowerCase());
  return hit ?? who;
}

export const testClient = (w: World) => createTestClient({ mode: "hardhat", transport: http(w.chain.url) });

/** Mine one block without moving time on (the draw of a commit is known from the next block). */
export async function mineBlock(w: World): Promise<void> {
  await testClient(w).mine({ blocks: 1 });
}

export const fmt = (wei: bigint): string => `${(Number(wei) / 1e18).toFixed(4).replace(/\.?0+$/, "")}`;
