/**
 * The adversary suite's world: Hardhat's EDR behind a real JSON-RPC server, the whole suite
 * deployed by Ignition (the demo's embedded chain), one dev account per role, the synthetic
 * tiny model registered with PROTOCOL §6.5's tolerances, and helpers that open and commit jobs
 * through the same chain actions the client and the prover node use.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTestClient, http, keccak256, parseEther, toHex, type Hex } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { jobEscrowAbi, nodeRegistryAbi, stepProofGameAbi, traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { stakeMore } from "../../protocol/chain/actions/stakeMore.js";
import { AuditState, readAssignment } from "../../protocol/chain/actions/audits.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { auditManagerAbi } from "../../protocol/chain/generated/abi.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { commitResult } from "../../protocol/chain/actions/commitResult.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { recommendedTolerances } from "../../protocol/game/tolerances.js";
import { traceTree, weightsTree, type Architecture, type Encoding, type Trace } from "../../protocol/dispute/model.js";
import { f32Bits, syntheticTokens, syntheticWeights } from "../../protocol/dispute/synthetic.js";
import { generateGreedy } from "../../protocol/dispute/forward.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { FP16_LAYER_OUT } from "../../scripts/lib/register-model-package.js";
import { connectAs, startEmbeddedChain, type DemoChain } from "../../scripts/demo/setup.js";
import type { Ledger } from "./report.js";

/** d 32, 4/2 heads × 8, ffn 48, C 4 (every reduction spans several chunks); context C² = 16. */
export const ARCH: Architecture = { layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 40, context: 16, normEpsBits: f32Bits(1e-5), ropeTheta: 10000 };
export const ENC: Encoding = { traceDtype: 1, weightsDtype: 1, chunkSize: 4 };
export const TOLERANCES = recommendedTolerances(FP16_LAYER_OUT);

/**
 * Dev-account index of each role. `smallProver` (a prover with the minimum stake) and
 * `lazyAuditor` (a verifier that approves without checking) are registered by the incentive
 * attacks that need them (attacks-deterrence.ts, attacks-auditors.ts).
 */
const ROLE_INDEX = { governance: 0, honestProver: 1, cheater: 2, verifier: 3, client: 4, verifier2: 5, sybil: 6, smallProver: 7, lazyAuditor: 8 } as const;
export type Role = keyof typeof ROLE_INDEX;

export type World = {
  chain: DemoChain;
  as: Record<Role, StepproofClients>;
  modelId: Hex;
  /** The model as every honest party holds it (weights and their tree). */
  model: Pick<DisputeData, "arch" | "encoding" | "weights" | "weightsTree">;
  /** Advance chain time by `seconds` and mine. */
  warp(seconds: bigint): Promise<void>;
  now(): Promise<bigint>;
  stop(): Promise<void>;
};

const PRICE = parseEther("0.001");
const PROVER_STAKE = parseEther("1000");

export async function createWorld(): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), "stepproof-adversary-"));
  // Any free port: several worlds (test files run in parallel) must not race for one.
  const chain = await startEmbeddedChain(dir, 0);
  const as = {} as Record<Role, StepproofClients>;
  for (const [role, index] of Object.entries(ROLE_INDEX)) as[role as Role] = await connectAs(chain, index);
  const weights = syntheticWeights(ARCH, ENC, 1);
  const model = { arch: ARCH, encoding: ENC, weights, weightsTree: weightsTree(weights, ENC.chunkSize) };
  const modelId = keccak256(toHex("stepproof-adversary-tiny"));
  await registerModel(as.governance, { modelId, weightsRoot: model.weightsTree.root, manifestHash: keccak256(toHex("adversary manifest")), architecture: ARCH, encoding: ENC, tolerances: TOLERANCES });
  for (const role of ["honestProver", "cheater"] as const) {
    await registerNode(as[role], { role: "prover", stake: PROVER_STAKE, endpoint: `http://127.0.0.1/${role}`, offers: [{ modelId, inputPrice: PRICE, outputPrice: PRICE }] });
  }
  // "verifier" is the model's only audit pool member and every job is audited (PROTOCOL §9.1):
  // it audits every job, and every other challenger acts as a volunteer after its priority.
  for (const role of ["verifier", "verifier2", "sybil"] as const) {
    await registerNode(as[role], { role: "verifier", stake: parseEther("100"), endpoint: `http://127.0.0.1/${role}`, ...(role === "verifier" ? { auditPools: [modelId] } : {}) });
  }
  await sendContractTransaction(as.governance, { address: as.governance.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "setModelAuditRate", args: [modelId, 10_000], what: "audit every job" });
  const test = createTestClient({ mode: "hardhat", transport: http(chain.url) });
  const now = async () => (await as.governance.publicClient.getBlock()).timestamp;
  return {
    chain,
    as,
    modelId,
    model,
    now,
    warp: async (seconds) => {
      await test.increaseTime({ seconds: Number(seconds) });
      await test.mine({ blocks: 1 });
    },
    stop: () => chain.stop(),
  };
}

/** An honest greedy trace of `prompt` continued by `newTokens` generated tokens. */
export function honestData(w: World, prompt: readonly number[], newTokens: number): DisputeData {
  const trace = generateGreedy(w.model.arch, w.model.encoding, w.model.weights, [...prompt], newTokens);
  return withTrace(w, trace);
}

export function withTrace(w: World, trace: Trace): DisputeData {
  return { ...w.model, trace, traceTree: traceTree(trace, w.model.encoding.chunkSize) };
}

export const promptOf = (seed: number, n: number): number[] => syntheticTokens(n, ARCH.vocab, seed);

export type ProverRole = "honestProver" | "cheater" | "smallProver";

/**
 * `client` (the client role unless given) opens a job for `prompt` with `prover` (promptRoot,
 * exact length, sampling rule) on the world's model unless `modelId` names another.
 */
export async function openFor(w: World, p: { prover: ProverRole; prompt: readonly number[]; maxOutputTokens: number; samplingParams?: bigint; modelId?: Hex; client?: Role }): Promise<bigint> {
  if (p.prover === "cheater") await paroleCheater(w);
  const opened = await openJob(w.as[p.client ?? "client"], {
    prover: w.as[p.prover].walletClient!.account.address,
    modelId: p.modelId ?? w.modelId,
    promptRoot: tokenRoot(p.prompt, 0),
    inputTokens: p.prompt.length,
    maxOutputTokens: p.maxOutputTokens,
    ...(p.samplingParams !== undefined ? { samplingParams: p.samplingParams } : {}),
  });
  return opened.jobId;
}

/** The prover commits `data`'s trace root and the output root of its tokens after position P. */
export async function commitFor(w: World, p: { prover: ProverRole; jobId: bigint; inputTokens: number; data: DisputeData; outputRoot?: Hex; outputTokens?: number }): Promise<void> {
  const output = p.data.trace.tokens.slice(p.inputTokens);
  await commitResult(w.as[p.prover], {
    jobId: p.jobId,
    traceRoot: p.data.traceTree.root,
    outputRoot: p.outputRoot ?? tokenRoot(output, p.inputTokens),
    outputTokens: p.outputTokens ?? output.length,
  });
}

/** Open and commit in one go (greedy jobs, whose trace does not depend on the job id). */
export async function openAndCommit(w: World, p: { prover: ProverRole; prompt: readonly number[]; data: DisputeData; maxOutputTokens?: number; modelId?: Hex; client?: Role }): Promise<bigint> {
  const maxOutputTokens = p.maxOutputTokens ?? p.data.trace.tokens.length - p.prompt.length;
  const jobId = await openFor(w, { prover: p.prover, prompt: p.prompt, maxOutputTokens, ...(p.modelId ? { modelId: p.modelId } : {}), ...(p.client ? { client: p.client } : {}) });
  await commitFor(w, { prover: p.prover, jobId, inputTokens: p.prompt.length, data: p.data });
  return jobId;
}

/**
 * A challenger that is not the job's auditor waits out the auditor's exclusive window (PROTOCOL
 * §9.1), as any volunteer must; the job's own auditor goes at once.
 */
export async function afterAuditPriority(w: World, jobId: bigint, role: Role): Promise<void> {
  let a = await readAssignment(w.as.governance, jobId);
  // Nobody may challenge in the commit block itself: the draw is not known yet.
  if (a.state === AuditState.Pending) {
    await w.warp(1n);
    a = await readAssignment(w.as.governance, jobId);
  }
  if (a.state !== AuditState.Assigned || a.auditor === w.as[role].walletClient!.account.address) return;
  const now = await w.now();
  if (now <= a.deadline) await w.warp(a.deadline - now + 1n);
}

/**
 * A proven fraud jails the cheater and takes half its free stake (PROTOCOL §9.4). Each cheating
 * job is played by a fresh cheater: before the cheater's next job, time moves past the jail and
 * the stake is topped back up to what it registered with (`openFor` does this).
 */
export async function paroleCheater(w: World): Promise<void> {
  const c = w.as.cheater;
  const node = await c.publicClient.readContract({ address: c.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [c.walletClient!.account.address] });
  const now = await w.now();
  if (node.jailedUntil > now) await w.warp(node.jailedUntil - now + 1n);
  if (node.stake < PROVER_STAKE) await stakeMore(c, { amount: PROVER_STAKE - node.stake });
}

/** Adds every transaction mined after block `from` (both sides of the attack) to the ledger. */
export async function collectGas(w: World, ledger: Ledger, from: bigint): Promise<void> {
  const pc = w.as.governance.publicClient;
  const latest = await pc.getBlockNumber({ cacheTime: 0 });
  for (let n = from + 1n; n <= latest; n++) {
    const block = await pc.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) if (typeof tx !== "string") ledger.add((await pc.getTransactionReceipt({ hash: tx.hash })).gasUsed);
  }
}

export const blockNumber = (w: World): Promise<bigint> => w.as.governance.publicClient.getBlockNumber({ cacheTime: 0 });

export async function jobStatus(w: World, jobId: bigint): Promise<number> {
  return (await w.as.governance.publicClient.readContract({ address: w.as.governance.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] })).status;
}

/** Stake of a node (to see whether an honest one lost any). */
export async function stakeOf(w: World, role: Role): Promise<bigint> {
  const c = w.as.governance;
  const node = await c.publicClient.readContract({ address: c.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [w.as[role].walletClient!.account.address] });
  return node.stake;
}

/** Credits a role can withdraw from the game and the availability contract (bonds, fees). */
export async function gameCredits(w: World, role: Role): Promise<bigint> {
  const c = w.as.governance;
  const who = w.as[role].walletClient!.account.address;
  const a = await c.publicClient.readContract({ address: c.deployment.contracts.stepProofGame, abi: stepProofGameAbi, functionName: "credits", args: [who] });
  const b = await c.publicClient.readContract({ address: c.deployment.contracts.traceAvailability, abi: traceAvailabilityAbi, functionName: "credits", args: [who] });
  return a + b;
}
