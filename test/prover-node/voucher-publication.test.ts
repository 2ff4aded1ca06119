import { formatEther, parseEther, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { depositForProver } from "../../protocol/chain/actions/vouchers.js";
import { claimMissedPublication, PublicationStatus, publishVoucher, readPublication } from "../../protocol/chain/actions/voucher-publication.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { nodeRegistryAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { decodeLeafResponse, signVoucher, type Voucher } from "../../protocol/vouchers/index.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { parseProverConfig, type ProverConfig } from "../../prover-node/config.js";
import { formatProverStatus, readProverStatus } from "../../prover-node/status.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { countingConcurrency } from "../helpers/concurrency.js";
import { IN_PRICE, OUT_PRICE, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * Voucher publication end to end (PROTOCOL §5.8 "Publication") on a Hardhat JSON-RPC chain: a
 * client publishes a voucher the prover node never received; the node reads it from the chain,
 * serves it from the published prompt, batches it at once and shows its leaf, closing the
 * publication with no penalty. A voucher published while the node is away is missed: after the
 * deadline and one answer window the client takes the penalty from the node's reserve.
 */
describe("voucher publication", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  let config: ProverConfig;
  const PROVER = devAccount(1).address;
  const prompt = [256, 72, 105, 33];

  beforeAll(async () => {
    net = await startTestNetwork();
    config = parseProverConfig(
      await proverConfigFor(net, "publication", { vouchers: { enabled: true, batchIntervalSeconds: 3600, maxBatchJobs: 50, minLifetimeSeconds: 60, standingReserve: parseEther("5").toString() } }),
    );
    node = await startProverNode(config, { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    await depositForProver(client, { prover: PROVER, amount: parseEther("1") });
    await node.loop.kick(); // the first pass reserves the standing reserve
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const voucherFor = async (nonce: bigint, lifetime = 3600n): Promise<{ voucher: Voucher; signature: Hex }> => {
    const now = (await client.publicClient.getBlock()).timestamp;
    const voucher: Voucher = {
      client: client.walletClient!.account.address, prover: PROVER, modelId: net.manifest.modelId as Hex, promptRoot: promptRoot(prompt), samplingParams: 0n,
      inputTokens: prompt.length, maxOutputTokens: 4, inputPrice: IN_PRICE, outputPrice: OUT_PRICE, nonce, expiry: now + lifetime,
    };
    return { voucher, signature: await signVoucher(devAccount(2), voucher, 31337, client.deployment.contracts.voucherEscrow!) };
  };

  it("a published voucher is served from the chain, batched at once and answered", { timeout: 120_000 }, async () => {
    const reserve = await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "reserveOf", args: [PROVER] });
    expect(reserve.reserved - reserve.held).toBeGreaterThanOrEqual(parseEther("5"));

    const { voucher, signature } = await voucherFor(0n);
    const { voucherHash, publication } = await publishVoucher(client, { voucher, signature, promptTokens: prompt });
    expect(publication.status).toBe(PublicationStatus.Open);
    // One pass: read the publication, generate from the published prompt, commit (the batch
    // interval is an hour: the deadline makes it due now), show the leaf.
    await node.loop.kick();
    const pub = await readPublication(client, { voucherHash });
    expect(pub.status).toBe(PublicationStatus.Answered);

    // The leaf is the served job: its output root is the root of the ids the node returns.
    const leaf = decodeLeafResponse(await (await fetch(`${node.url}/v1/vouchers/${voucherHash}/leaf`)).json());
    expect(leaf.leaf.voucherHash.toLowerCase()).toBe(voucherHash.toLowerCase());
    expect(leaf.leaf.outputTokens).toBeGreaterThan(0);
    const account = await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "account", args: [client.walletClient!.account.address, PROVER] });
    expect(account.nextNonce).toBe(1n);
    // The hold ended with the answer: only the batch's collateral is held.
    const after = await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "reserveOf", args: [PROVER] });
    expect(after.held).toBe(leaf.header.collateral);
    // `stepproof-prover status` shows the voucher path: reserve, what is held, the open queue, local batches.
    const status = await readProverStatus(config, PROVER);
    expect(status.vouchers).toMatchObject({ held: formatEther(leaf.header.collateral), unclaimed: formatEther(leaf.header.total), publicationsDeployed: true });
    expect(status.node?.voucherBatches).toEqual({ committed: 1 });
    expect(status.node?.voucherJobs).toEqual({ batched: 1 });
    expect(formatProverStatus(status)).toMatch(/^vouchers\s+\{"reserved":/m);
  });

  it("a voucher published while the node is away is missed, and the client takes the penalty", { timeout: 120_000 }, async () => {
    const { voucher, signature } = await voucherFor(1n);
    const { voucherHash, publication } = await publishVoucher(client, { voucher, signature, promptTokens: prompt });
    expect(publication.penalty).toBeGreaterThan(0n);
    // The node's loop does not run (it is "away"); the deadline and one answer window pass.
    await expect(claimMissedPublication(client, { voucherHash })).rejects.toThrow(/DeadlineNotPassed/);
    await net.advance(600 + 600 + 1);
    const creditsBefore = await client.publicClient.readContract({ address: client.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [client.walletClient!.account.address] });
    await claimMissedPublication(client, { voucherHash });
    const creditsAfter = await client.publicClient.readContract({ address: client.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [client.walletClient!.account.address] });
    expect(creditsAfter - creditsBefore).toBe(publication.penalty);
    expect((await readPublication(client, { voucherHash })).status).toBe(PublicationStatus.Missed);
    // Back, the node sees the publication is over and does not serve it.
    await node.loop.kick();
    expect((await readPublication(client, { voucherHash })).status).toBe(PublicationStatus.Missed);
    const served = await fetch(`${node.url}/v1/vouchers/${voucherHash}/leaf`);
    expect(served.status).toBe(404);
  });

  it("vouchers published together are generated together and all answered", { timeout: 120_000 }, async () => {
    const hashes: Hex[] = [];
    for (const nonce of [2n, 3n, 4n]) {
      const { voucher, signature } = await voucherFor(nonce);
      hashes.push((await publishVoucher(client, { voucher, signature, promptTokens: prompt })).voucherHash);
    }
    const service = node.vouchers!;
    const run = service.run;
    const counted = countingConcurrency(run.bind(service));
    service.run = counted.fn;
    try {
      await node.loop.kick();
    } finally {
      service.run = run;
    }
    expect(counted.most()).toBe(3); // one after another would be 1
    for (const voucherHash of hashes) expect((await readPublication(client, { voucherHash })).status).toBe(PublicationStatus.Answered);
  });
});
