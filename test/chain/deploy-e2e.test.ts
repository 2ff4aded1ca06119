import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { writeDeployment } from "../../protocol/chain/deployments.js";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { createTestClient, http, keccak256, toHex, parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploySuite } from "../../scripts/lib/deploy-suite.js";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { stepproofContracts, JobStatus } from "../../protocol/chain/contracts.js";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { commitResult } from "../../protocol/chain/actions/commitResult.js";
import { finalizeJobs } from "../../protocol/chain/actions/finalizeJobs.js";
import { withdrawCredits } from "../../protocol/chain/actions/withdrawCredits.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import { devAccount, startAnvil, startHardhatRpc, type LocalChain } from "../helpers/chains.js";

const MODEL_ID = keccak256(toHex("e2e-tiny"));
const IN_PRICE = parseEther("0.001");
const OUT_PRICE = parseEther("0.004");

/**
 * Deploy with Ignition over JSON-RPC and run a whole job (open → commit → window → finalize →
 * withdraw) against two independently written nodes: Hardhat's EDR server and anvil.
 */
describe.each([
  ["hardhat node", startHardhatRpc],
  ["anvil", startAnvil],
] as const)("deployment and a full job on %s", (_name, start) => {
  let chain: LocalChain;
  let dir: string;
  const deploymentId = `test-${process.pid}-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    chain = await start();
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-deploy-"));
  });

  afterAll(async () => {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("deploys, settles a job per token and reconciles every balance", async () => {
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    const first = await deploySuite(conn, { deploymentsDir: dir, deploymentId });
    expect(first.deployment.chainId).toBe(31337);
    // Deploying again recognises the suite instead of deploying a second one.
    const again = await deploySuite(conn, { deploymentsDir: dir, deploymentId });
    expect(again.deployment.contracts).toEqual(first.deployment.contracts);
    expect(again.alreadyDeployed).toBe(true);
    await conn.close();

    const as = (i: number): Promise<StepproofClients> =>
      connectStepproof({ rpcUrl: chain.url, deploymentFile: first.file, account: devAccount(i), expectedChainId: 31337 });
    const [gov, prover, client] = await Promise.all([as(0), as(1), as(2)]);
    const contracts = stepproofContracts(gov);

    await registerModel(gov, {
      modelId: MODEL_ID,
      weightsRoot: keccak256(toHex("weights")),
      manifestHash: keccak256(toHex("manifest")),
      architecture: { layers: 4, hidden: 64, heads: 4, kvHeads: 2, ffn: 176, vocab: 259, context: 512, normEpsBits: 0x3727c5ac, ropeTheta: 10000 },
      encoding: { traceDtype: 1, weightsDtype: 1, chunkSize: 64 },
      tolerances: Array.from({ length: DEFAULT_DEPLOY_PARAMETERS.opCount }, () => ({ atol: 1n << 20n, rtol: 1n << 22n })),
    });
    await registerNode(prover, { role: "prover", stake: parseEther("500"), endpoint: "http://127.0.0.1:8600", offers: [{ modelId: MODEL_ID, inputPrice: IN_PRICE, outputPrice: OUT_PRICE }] });
    // No job opens while the model's audit pool is empty (PROTOCOL §9.4).
    await expect(openJob(client, { prover: prover.walletClient!.account.address, modelId: MODEL_ID, promptRoot: keccak256(toHex("hello")), inputTokens: 12, maxOutputTokens: 30 })).rejects.toThrow(/NoAuditors/);
    await registerNode(await as(7), { role: "verifier", stake: parseEther("100"), endpoint: "http://127.0.0.1:8700", auditPools: [MODEL_ID] });

    const balance = (who: `0x${string}`) => contracts.token.read.balanceOf([who]);
    const clientBefore = await balance(client.walletClient!.account.address);
    const proverBefore = await balance(prover.walletClient!.account.address);
    const treasuryBefore = await balance(gov.walletClient!.account.address);

    const job = await openJob(client, { prover: prover.walletClient!.account.address, modelId: MODEL_ID, promptRoot: keccak256(toHex("hello")), inputTokens: 12, maxOutputTokens: 30 });
    expect(job.escrowed).toBe(12n * IN_PRICE + 30n * OUT_PRICE);
    await commitResult(prover, { jobId: job.jobId, traceRoot: keccak256(toHex("trace")), outputRoot: keccak256(toHex("out")), outputTokens: 25 });

    // Inside the window finalization is refused with the contract's own reason.
    await expect(finalizeJobs(client, [job.jobId])).resolves.toBe(0);
    await expect(contracts.jobEscrow.simulate.finalize([job.jobId], { account: client.walletClient!.account.address })).rejects.toThrow(/ChallengeWindowOpen/);

    const testClient = createTestClient({ mode: chain.kind === "anvil" ? "anvil" : "hardhat", transport: http(chain.url) });
    await testClient.increaseTime({ seconds: DEFAULT_DEPLOY_PARAMETERS.challengeWindow + 1 });
    await testClient.mine({ blocks: 1 });
    expect(await finalizeJobs(client, [job.jobId])).toBe(1);
    expect((await contracts.jobEscrow.read.getJob([job.jobId])).status).toBe(JobStatus.Finalized);

    for (const party of [prover, client, gov]) await withdrawCredits(party);
    const cost = 12n * IN_PRICE + 25n * OUT_PRICE;
    const fee = (cost * BigInt(DEFAULT_DEPLOY_PARAMETERS.feeBps)) / 10_000n;
    const auditFee = (cost * BigInt(DEFAULT_DEPLOY_PARAMETERS.audit.auditFeeBps)) / 10_000n;
    expect(await balance(prover.walletClient!.account.address)).toBe(proverBefore + cost - fee - auditFee);
    expect(await balance(client.walletClient!.account.address)).toBe(clientBefore - cost);
    expect(await balance(gov.walletClient!.account.address)).toBe(treasuryBefore + fee);
    // What stays in the escrow is the audit fee, pooled for auditors (PROTOCOL §9.2).
    expect(await contracts.token.read.balanceOf([first.deployment.contracts.jobEscrow])).toBe(auditFee);
    expect(await contracts.jobEscrow.read.auditPool()).toBe(auditFee);
    expect(await contracts.jobEscrow.read.totalEscrowed()).toBe(0n);

    // Concurrent clients: every returned id is the caller's own job (read from the receipt, not
    // from a simulation that raced the others: issue #15), and every id is distinct.
    const openers = await Promise.all([3, 4, 5, 6].map((i) => as(i)));
    const opened = await Promise.all(openers.map((c, i) => openJob(c, { prover: prover.walletClient!.account.address, modelId: MODEL_ID, promptRoot: keccak256(toHex(`concurrent ${i}`)), inputTokens: 2 + i, maxOutputTokens: 4 })));
    expect(new Set(opened.map((o) => o.jobId)).size).toBe(openers.length);
    for (const [i, o] of opened.entries()) {
      const onChain = await contracts.jobEscrow.read.getJob([o.jobId]);
      expect(onChain.client).toBe(openers[i]!.walletClient!.account.address);
      expect(onChain.promptRoot).toBe(keccak256(toHex(`concurrent ${i}`)));
      expect(o.escrowed).toBe(onChain.escrowed);
    }

    // A second commit on a settled job is refused with a typed, named error.
    const err = await commitResult(prover, { jobId: job.jobId, traceRoot: keccak256(toHex("x")), outputRoot: keccak256(toHex("y")), outputTokens: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect((err as TransactionError).revertName).toBe("WrongStatus");
  });
});

describe("connecting to the wrong chain or a missing deployment", () => {
  it("names the problem", async () => {
    const chain = await startHardhatRpc();
    try {
      await expect(connectStepproof({ rpcUrl: chain.url, deploymentFile: "/nonexistent/31337.json" })).rejects.toThrow(/No deployment file/);
      await expect(connectStepproof({ rpcUrl: chain.url, deploymentFile: "x", expectedChainId: 1 })).rejects.toThrow(/Wrong chain: .* serves chain 31337, expected 1/);
      await expect(connectStepproof({ rpcUrl: "http://127.0.0.1:1", deploymentFile: "x" })).rejects.toThrow(/Cannot reach a JSON-RPC chain/);
      // A deployment file whose addresses hold no contracts on this chain (e.g. a restarted devnet).
      const dir = await mkdtemp(path.join(tmpdir(), "stepproof-wrong-"));
      const file = path.join(dir, "31337.json");
      const nowhere = "0x000000000000000000000000000000000000dEaD";
      await writeDeployment(file, { chainId: 31337, startBlock: 0, deployedAt: new Date().toISOString(), contracts: { token: nowhere, modelRegistry: nowhere, nodeRegistry: nowhere, jobEscrow: nowhere, stepProofGame: nowhere, traceAvailability: nowhere, auditManager: nowhere } });
      await expect(connectStepproof({ rpcUrl: chain.url, deploymentFile: file })).rejects.toThrow(/No JobEscrow contract at 0x000000000000000000000000000000000000dEaD on chain 31337/);
      await writeFile(file, "{ not json");
      await expect(connectStepproof({ rpcUrl: chain.url, deploymentFile: file })).rejects.toThrow(/is malformed/);
      await rm(dir, { recursive: true, force: true });
    } finally {
      await chain.stop();
    }
  });
});
