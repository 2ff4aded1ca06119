/** Deploys the game against mocks of the escrow and registry on an in-process EDR chain. */
import { network } from "hardhat";
import type { Hex } from "viem";
import { keccak256, toHex } from "viem";
import { tokenRoot } from "../../protocol/commitments/index.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";

export const BOND = 10n ** 18n;
export const PROVER_CLOCK = 3600n;
export const CHALLENGER_CLOCK = 7200n;
/** Fee per demanded leaf (PROTOCOL §7.4). */
export const DEMAND_FEE = 10n ** 15n;
export const JOB_ID = 1n;
export const MODEL_ID = keccak256(toHex("tiny-model"));

export async function deployGame(opts: { reentrantToken?: boolean } = {}) {
  const conn = await network.create();
  const { viem, networkHelpers } = conn;
  const [deployer, prover, challenger, other] = await viem.getWalletClients();
  const publicClient = await viem.getPublicClient();
  const token = opts.reentrantToken ? await viem.deployContract("ReentrantToken") : await viem.deployContract("DisputeToken");
  const escrow = await viem.deployContract("MockJobEscrow");
  const models = await viem.deployContract("MockModelRegistry");
  const judge = await viem.deployContract("StepJudge");
  const game = await viem.deployContract("StepProofGame", [
    escrow.address,
    models.address,
    judge.address,
    token.address,
    BOND,
    0, // bond share of the escrow: these tests use the floor
    PROVER_CLOCK,
    CHALLENGER_CLOCK,
    DEMAND_FEE,
  ]);
  await escrow.write.setGame([game.address]);
  for (const who of [challenger!, other!, prover!]) {
    await token.write.mint([who.account.address, 100n * BOND]);
    await token.write.approve([game.address, 2n ** 255n], { account: who.account });
  }
  return { conn, viem, networkHelpers, publicClient, token, escrow, models, judge, game, deployer: deployer!, prover: prover!, challenger: challenger!, other: other! };
}

export type Deployed = Awaited<ReturnType<typeof deployGame>>;

/** Register `data`'s model and commit a job whose trace root is `data.traceTree.root`. */
export async function setupJob(
  d: Deployed,
  data: DisputeData,
  tolerances: { atol: bigint; rtol: bigint }[],
  opts: { jobId?: bigint; challengeWindow?: bigint; modelId?: Hex; samplingParams?: bigint } = {},
) {
  const modelId = opts.modelId ?? MODEL_ID;
  const registered = await d.models.read.isRegistered([modelId]);
  if (!registered) {
    await d.models.write.registerModel([
      modelId,
      data.weightsTree.root,
      keccak256(toHex("manifest")),
      data.arch,
      data.encoding,
      tolerances,
    ]);
  }
  const now = BigInt((await d.publicClient.getBlock()).timestamp);
  const n = data.trace.tokens.length;
  const job: Record<string, unknown> = {
    client: d.deployer.account.address,
    prover: d.prover.account.address,
    modelId,
    // Token roots of the fixture's own tokens (PROTOCOL §3.4): one prompt token, the rest output.
    promptRoot: tokenRoot(data.trace.tokens.slice(0, 1), 0),
    samplingParams: opts.samplingParams ?? 0n,
    traceRoot: data.traceTree.root,
    outputRoot: tokenRoot(data.trace.tokens.slice(1), 1),
    inputPrice: 1n,
    outputPrice: 1n,
    escrowed: 1000n,
    collateral: 1000n,
    maxOutputTokens: n,
    inputTokens: 1,
    outputTokens: n - 1,
    openedAt: now,
    commitDeadline: now + 100n,
    challengeDeadline: now + (opts.challengeWindow ?? 86_400n),
    challengeWindow: Number(opts.challengeWindow ?? 86_400n),
    feeBps: 0,
    openDisputes: 0,
    status: 2, // Committed
  };
  // The Job struct may grow (issue #2); fill every field the compiled ABI names.
  const abi = d.escrow.abi.find((x) => x.type === "function" && x.name === "setJob") as { inputs: { components: { name: string; type: string }[] }[] };
  const full = Object.fromEntries(abi.inputs[1]!.components.map((c) => [c.name, job[c.name] ?? (c.type === "bool" ? false : c.type.startsWith("uint") ? 0 : "0x" + "00".repeat(32))]));
  await d.escrow.write.setJob([opts.jobId ?? JOB_ID, full as never]);
}

/** INVARIANT (PROTOCOL §7.4): the game holds exactly what it owes. */
export async function solvency(d: Deployed): Promise<{ balance: bigint; owed: bigint }> {
  const balance = await d.token.read.balanceOf([d.game.address]);
  const owed = (await d.game.read.bondsHeld()) + (await d.game.read.feesHeld()) + (await d.game.read.totalCredits());
  return { balance, owed };
}
