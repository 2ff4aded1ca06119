import { parseEther, parseEventLogs, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runVoucherJob } from "../../client/run-voucher-job.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { batchHeaderHash, decodeLeafResponse } from "../../protocol/vouchers/index.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { kickUntil, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * The prover's steady state on vouchers (PROTOCOL §5.8 Cost): the next batch goes into the slot
 * of the batch due for its claim, claim and commit in one transaction. The old batch's jobs
 * keep answering for the old batch (same batch id, archived row), the new ones for the new.
 */
describe("batch slot reuse", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  const PROVER = devAccount(1).address;

  beforeAll(async () => {
    net = await startTestNetwork();
    const config = parseProverConfig(await proverConfigFor(net, "slots", { vouchers: { enabled: true, batchIntervalSeconds: 60, maxBatchJobs: 1, minLifetimeSeconds: 60 } }));
    node = await startProverNode(config, { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const job = (prompt: number[], waitForBatchMs: number) =>
    runVoucherJob(client, { modelId: net.manifest.modelId as Hex, prompt: { tokenIds: prompt }, maxTokens: 3, prover: PROVER, modelDir: net.modelDir, deposit: parseEther("1"), voucherLifetimeSeconds: 7200, waitForBatchMs });
  const leafOf = async (h: Hex) => decodeLeafResponse(await (await fetch(`${node.url}/v1/vouchers/${h}/leaf`)).json());

  it("claims the due batch and commits the next into its slot in one transaction", { timeout: 120_000 }, async () => {
    const first = await kickUntil(node, job([256, 72, 105], 60_000));
    const old = await leafOf(first.voucherHash);
    // The next job is served (the node generates on the request) and waits for its batch while
    // batch 1's window passes: on the next pass its claim and the new commit go out together.
    const second = await job([256, 87, 111], 0);
    await net.advance(3600 + 1);
    const before = await client.publicClient.getBlockNumber();
    await node.loop.kick();
    const now = await leafOf(second.voucherHash);
    expect(now.batchId).toBe(old.batchId); // the same slot, hence the same batch id
    expect(now.header.slot).toBe(old.header.slot);
    expect(await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "batchHash", args: [now.batchId] })).toBe(batchHeaderHash(now.header));
    // One transaction carried both events.
    const logs = await client.publicClient.getLogs({ address: client.deployment.contracts.voucherEscrow!, fromBlock: before + 1n });
    const events = parseEventLogs({ abi: voucherEscrowAbi, logs });
    const claimed = events.find((e) => e.eventName === "BatchClaimed")!;
    const committed = events.find((e) => e.eventName === "BatchCommitted" && e.args.header.jobsRoot === now.header.jobsRoot)!;
    expect(claimed.transactionHash).toBe(committed.transactionHash);
    // The first job still answers for its own (claimed) batch: its old header, its own leaf.
    const again = await leafOf(first.voucherHash);
    expect(again.leaf.voucherHash.toLowerCase()).toBe(first.voucherHash.toLowerCase());
    expect(batchHeaderHash(again.header)).toBe(batchHeaderHash(old.header));
  });
});
