import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { createTestClient, encodeFunctionData, http, keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploySuite } from "../../scripts/lib/deploy-suite.js";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { stepproofContracts, JobStatus } from "../../protocol/chain/contracts.js";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { sendContractTransaction, TransactionError } from "../../protocol/chain/actions/send.js";
import { batchCourtAbi, testTokenAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import {
  adoptBatchedJob, answerLeaf, challengeLeaf, claimBatch, commitBatch, depositForProver, readVoucherAccount,
  reserveForBatches, sweepBatchFees, withdrawEarnings,
} from "../../protocol/chain/actions/vouchers.js";
import { buildBatch, chargeOf, jobLeafHash, verifyJobLeaf, voucherDigest, signVoucher, type ServedJob, type Voucher } from "../../protocol/vouchers/index.js";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import { devAccount, startAnvil, type LocalChain } from "../helpers/chains.js";

const MODEL_ID = keccak256(toHex("voucher-chain-test"));
const IN_PRICE = parseEther("0.000001");
const OUT_PRICE = parseEther("0.000004");
const V = DEFAULT_DEPLOY_PARAMETERS.vouchers;

/**
 * The voucher path (PROTOCOL §5.8) deployed with Ignition over JSON-RPC onto anvil started with
 * each L2 testnet's chain id, around an existing ERC-20 as a testnet deployment is: deposits,
 * signed vouchers, a batch built by the TypeScript library and committed, a leaf challenged and
 * answered with its voucher, one job moved into the JobEscrow, the rest claimed, fees swept,
 * every balance reconciled. The TypeScript digests, leaf hashes and proofs are checked against
 * the contracts' own (differential).
 */
describe.each([
  ["Base Sepolia", 84532],
  ["Arbitrum Sepolia", 421614],
  ["OP Sepolia", 11155420],
] as const)("voucher batches on anvil as %s (chain %i)", (_name, chainId) => {
  let chain: LocalChain;
  let dir: string;
  const deploymentId = `vouchers-${chainId}-${process.pid}`;

  beforeAll(async () => {
    chain = await startAnvil({ chainId });
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-vouchers-"));
  });

  afterAll(async () => {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("deploys, commits a batch, survives a challenge and an adoption, and pays exactly", async () => {
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    const [deployer] = await conn.viem.getWalletClients();
    // A testnet deployment wraps an existing ERC-20: deploy one first, as its issuer would.
    const token = await conn.viem.deployContract("TestToken", [deployer!.account.address]);
    expect(await (await conn.viem.getPublicClient()).getChainId()).toBe(chainId);
    const { deployment, file } = await deploySuite(conn, { deploymentsDir: dir, deploymentId, parameters: { Stepproof: { paymentToken: token.address } } });
    await conn.close();
    expect(deployment.chainId).toBe(chainId);
    expect(deployment.contracts.voucherEscrow).toBeDefined();

    const as = (i: number): Promise<StepproofClients> => connectStepproof({ rpcUrl: chain.url, deploymentFile: file, account: devAccount(i), expectedChainId: chainId });
    const [gov, prover, clientA, clientB, verifier] = await Promise.all([as(0), as(1), as(2), as(3), as(4)]);
    const c = stepproofContracts(gov);
    const addr = (x: StepproofClients) => x.walletClient!.account.address;
    for (const who of [prover, clientA, clientB, verifier]) {
      await sendContractTransaction(gov, { address: token.address, abi: testTokenAbi, functionName: "mint", args: [addr(who), parseEther("1000")], what: "mint test tokens" });
    }

    await registerModel(gov, {
      modelId: MODEL_ID,
      weightsRoot: keccak256(toHex("weights")),
      manifestHash: keccak256(toHex("manifest")),
      architecture: { layers: 4, hidden: 64, heads: 4, kvHeads: 2, ffn: 176, vocab: 259, context: 512, normEpsBits: 0x3727c5ac, ropeTheta: 10000 },
      encoding: { traceDtype: 1, weightsDtype: 1, chunkSize: 64 },
      tolerances: Array.from({ length: DEFAULT_DEPLOY_PARAMETERS.opCount }, () => ({ atol: 1n << 20n, rtol: 1n << 22n })),
    });
    await registerNode(prover, { role: "prover", stake: parseEther("500"), endpoint: "http://127.0.0.1:8600", offers: [{ modelId: MODEL_ID, inputPrice: IN_PRICE, outputPrice: OUT_PRICE }] });
    await reserveForBatches(prover, { amount: parseEther("100") });
    for (const cl of [clientA, clientB]) await depositForProver(cl, { prover: addr(prover), amount: parseEther("1") });

    const vouchers = deployment.contracts.voucherEscrow!;
    const now = (await gov.publicClient.getBlock()).timestamp;
    const jobs: ServedJob[] = [];
    const plan: [StepproofClients, number, number][] = [[clientA, 0, 7], [clientB, 0, 3], [clientA, 1, 12], [clientA, 2, 1], [clientB, 1, 9]];
    for (const [cl, nonce, outTok] of plan) {
      const voucher: Voucher = {
        client: addr(cl), prover: addr(prover), modelId: MODEL_ID, promptRoot: keccak256(toHex(`prompt ${addr(cl)} ${nonce}`)), samplingParams: 0n,
        inputTokens: 20, maxOutputTokens: 16, inputPrice: IN_PRICE, outputPrice: OUT_PRICE, nonce: BigInt(nonce), expiry: now + 3600n,
      };
      const digest = voucherDigest(voucher, chainId, vouchers);
      // Differential: the contract computes the same EIP-712 digest.
      expect(await gov.publicClient.readContract({ address: vouchers, abi: voucherEscrowAbi, functionName: "voucherDigest", args: [voucher] })).toBe(digest);
      const signature = await signVoucher(devAccount(cl === clientA ? 2 : 3), voucher, chainId, vouchers);
      jobs.push({ voucher, voucherHash: digest, signature, traceRoot: keccak256(toHex(`trace ${nonce} ${addr(cl)}`)), outputRoot: keccak256(toHex(`out ${nonce} ${addr(cl)}`)), outputTokens: outTok });
    }
    const batch = buildBatch(jobs);
    for (const [i, leaf] of batch.leaves.entries()) {
      expect(await gov.publicClient.readContract({ address: deployment.contracts.batchCourt!, abi: batchCourtAbi, functionName: "leafHash", args: [leaf] })).toBe(jobLeafHash(leaf));
      expect(verifyJobLeaf(batch.tree.root, batch.leaves.length, leaf, i, batch.tree.proof(i))).toBe(true);
    }
    const { header } = await commitBatch(prover, { slot: 0n, batch });
    expect(header.total).toBe(batch.total);
    expect((await readVoucherAccount(gov, { client: addr(clientA), prover: addr(prover) })).nextNonce).toBe(3n);

    // A verifier challenges leaf 1; the prover answers with the client's signed voucher.
    const ref = (i: number) => ({ debits: batch.debits, leaf: batch.leaves[i]!, index: i, proof: batch.tree.proof(i) });
    await challengeLeaf(verifier, { header, index: 1 });
    await expect(claimBatch(gov, { header })).rejects.toThrow(/ChallengeWindowOpen|ChallengesOpen/);
    await answerLeaf(prover, { header, ...ref(1), voucher: batch.jobs[1]!.voucher, signature: batch.jobs[1]!.signature });

    // One job moves into the JobEscrow (where a dispute would run); the rest stays in the batch.
    const moved = 4;
    const adopted = await adoptBatchedJob(verifier, { header, ...ref(moved), voucher: batch.jobs[moved]!.voucher, signature: batch.jobs[moved]!.signature });
    const job = await c.jobEscrow.read.getJob([adopted.jobId]);
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.client).toBe(batch.leaves[moved]!.client);
    expect(job.escrowed).toBe(chargeOf(batch.leaves[moved]!));

    // A second claim of the same leaf is refused by name.
    const again = await adoptBatchedJob(verifier, { header, ...ref(moved), voucher: batch.jobs[moved]!.voucher, signature: batch.jobs[moved]!.signature }).catch((e: unknown) => e);
    expect((again as TransactionError).revertName).toBe("AlreadyAdopted");

    const testClient = createTestClient({ mode: "anvil", transport: http(chain.url) });
    await testClient.increaseTime({ seconds: V.challengeWindow + 1 });
    await testClient.mine({ blocks: 1 });
    const before = await c.token.read.balanceOf([addr(prover)]);
    await claimBatch(gov, { header });
    await withdrawEarnings(prover);
    const rest = batch.total - chargeOf(batch.leaves[moved]!);
    const fee = (rest * BigInt(V.feeBps)) / 10_000n;
    const auditFee = (rest * BigInt(V.auditFeeBps)) / 10_000n;
    const answeredFee = V.challengeFee; // credited in the court, withdrawn separately
    expect(await c.token.read.balanceOf([addr(prover)])).toBe(before + rest - fee - auditFee);
    const poolBefore = await c.jobEscrow.read.auditPool();
    await sweepBatchFees(gov);
    expect(await c.jobEscrow.read.auditPool()).toBe(poolBefore + auditFee);
    expect(await gov.publicClient.readContract({ address: deployment.contracts.batchCourt!, abi: batchCourtAbi, functionName: "credits", args: [addr(prover)] })).toBe(answeredFee);
    // Clients were debited exactly their leaves' charges.
    const spentA = batch.debits.find((d) => d.client === addr(clientA))!.amount;
    expect((await readVoucherAccount(gov, { client: addr(clientA), prover: addr(prover) })).balance).toBe(parseEther("1") - spentA);
    // What the voucher escrow holds is exactly what it owes.
    const held = await c.token.read.balanceOf([vouchers]);
    const deposits = (await readVoucherAccount(gov, { client: addr(clientA), prover: addr(prover) })).balance + (await readVoucherAccount(gov, { client: addr(clientB), prover: addr(prover) })).balance;
    expect(held).toBe(deposits + (await gov.publicClient.readContract({ address: vouchers, abi: voucherEscrowAbi, functionName: "totalCredits" })));
  }, 120_000);
});

describe("batch commits fit the L2 sequencers' calldata limits", () => {
  it("a commit with maxDebits debits stays under Arbitrum's 95,000-byte limit", () => {
    const debits = Array.from({ length: V.maxDebits }, (_, i) => ({ client: `0x${(i + 1).toString(16).padStart(40, "0")}` as Address, firstNonce: 2n ** 40n, lastNonce: 2n ** 40n + 999n, count: 1000, amount: 2n ** 100n }));
    const data: Hex = encodeFunctionData({ abi: voucherEscrowAbi, functionName: "commitBatch", args: [2n ** 60n, keccak256("0x01"), 256_000, debits] });
    expect((data.length - 2) / 2).toBeLessThan(95_000);
  });
});
