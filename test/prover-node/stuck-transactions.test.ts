import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, http, parseTransaction, type Hex } from "viem";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { CANCEL_KIND } from "../../prover-node/state/tx-replacement.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * A transaction the node sent but the chain does not mine (a node lost it, or it is priced below
 * a base fee that rose) must not hold the loop that would rescue it: a send waits for its receipt
 * `receiptTimeoutSeconds`, then the loop's next pass rebroadcasts it, replaces it with higher
 * fees, or, when its call would revert by now, frees its nonce with a transfer to itself
 * (PROTOCOL §5.7 "Transactions"). Before this, the loop awaited the receipt forever: no pass
 * ran again, so nothing was rebroadcast, later commits queued behind the nonce and missed their
 * deadlines, and disputes went unanswered.
 */
describe("transactions the chain does not mine", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  let test: ReturnType<typeof createTestClient>;

  beforeAll(async () => {
    net = await startTestNetwork();
    const input = await proverConfigFor(net, "stuck");
    // One second of waiting stands in for two minutes; nothing is replaced for its age alone.
    input.chain = { ...input.chain, receiptTimeoutSeconds: 1, replaceAfterSeconds: 3600 };
    node = await startProverNode(parseProverConfig(input), { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    test = createTestClient({ mode: net.chain.kind, transport: http(net.chain.url) });
  });
  afterAll(async () => {
    await test?.setAutomine(true).catch(() => {});
    await node?.close();
    await net?.cleanup();
  });

  /** A job generated and not yet committed, as a request leaves it before its commit (the contract takes any roots). */
  const generatedJob = async (label: string): Promise<bigint> => {
    const tokens = [256, ...Buffer.from(label)];
    const { jobId } = await openJob(client, { prover: node.address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 });
    const job = await getJob(client, { jobId });
    expect(node.db.claimJob(jobId, tokens.length, Number(job.commitDeadline), () => false)).toBe(true);
    node.db.markGenerated(jobId, { outputTokenIds: [1, 2], traceRoot: `0x${"11".repeat(32)}`, outputRoot: `0x${"22".repeat(32)}`, corrupted: false });
    return jobId;
  };
  const mined = (hash: Hex) => client.publicClient.getTransactionReceipt({ hash }).then(
    (r) => r,
    () => undefined,
  );
  /** The loop's commit of `jobId`, sent while no block is mined: its hash and raw bytes once persisted. */
  const sentCommit = async (jobId: bigint) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const row = node.db.txsFor("commit", jobId.toString())[0];
      if (row) return row;
      if (Date.now() > end) throw new Error(`no commit of job ${jobId} was sent`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  /**
   * The loop's commit of `jobId`, left out of a block whose base fee is ten times its fee cap
   * (and, with `pastDeadline`, mined after the job's commit deadline); the chain stays not mining.
   */
  const underpricedCommit = async (jobId: bigint, o: { pastDeadline?: boolean } = {}) => {
    const pass = node.loop.kick();
    const first = await sentCommit(jobId);
    await test.setNextBlockBaseFeePerGas({ baseFeePerGas: parseTransaction(first.raw).maxFeePerGas! * 10n });
    if (o.pastDeadline) await test.setNextBlockTimestamp({ timestamp: (await getJob(client, { jobId })).commitDeadline + 1n });
    await test.mine({ blocks: 1 }); // the block leaves it out: its fee cap is below the base fee
    await pass;
    return first;
  };
  const commitStates = (jobId: bigint) => node.db.txsFor("commit", jobId.toString()).map((t) => t.state);
  /**
   * A loop pass that should replace a stuck transaction, with the chain still not mining (a dev
   * chain that mines on demand refuses a second transaction at a pending nonce): one block is
   * mined once `rows()` holds the replacement, while the pass waits for its receipt.
   */
  const passMiningReplacement = async (rows: () => unknown[]) => {
    const pass = node.loop.kick();
    const end = Date.now() + 20_000;
    while (rows().length < 1) {
      if (Date.now() > end) throw new Error("no replacement was persisted");
      await new Promise((r) => setTimeout(r, 50));
    }
    await test.mine({ blocks: 1 });
    return pass;
  };

  it("a commit the chain drops while the loop waits for it does not hold the loop; the next pass rebroadcasts it", async () => {
    const jobId = await generatedJob("dropped");
    const other = await generatedJob("held");
    await test.setAutomine(false);
    let hash: Hex;
    try {
      const pass = node.loop.kick();
      hash = (await sentCommit(jobId)).hash;
      await test.dropTransaction({ hash });
      // Without the receipt timeout this pass never ends.
      const report = await pass;
      expect(report.committed).toBe(0);
      expect(commitStates(jobId)).toEqual(["pending"]);
      expect(await mined(hash)).toBeUndefined();
      // Another action is not held back by it: its transaction waits on-chain behind the gap.
      expect(await node.jobs.commit(other, { waitForReceipt: false })).toMatch(/^0x[0-9a-f]{64}$/);
    } finally {
      await test.setAutomine(true);
    }
    const report = await node.loop.kick();
    expect(report.resumed).toBe(1);
    expect((await getJob(client, { jobId: other })).status).toBe(JobStatus.Committed);
    expect((await mined(hash))!.status).toBe("success");
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Committed);
    expect(node.db.job(jobId)).toMatchObject({ state: "committed", commitTx: hash });
    expect(commitStates(jobId)).toEqual(["mined"]);
  });

  it("a commit priced below a base fee that rose is replaced by the same call with higher fees", async () => {
    const jobId = await generatedJob("underpriced");
    const nonce = await client.publicClient.getTransactionCount({ address: node.address });
    await test.setAutomine(false);
    let first: { hash: Hex; raw: Hex };
    try {
      first = await underpricedCommit(jobId);
      expect(await mined(first.hash)).toBeUndefined();
      // Rebroadcasting the same bytes could never land: the pass replaces them.
      expect((await passMiningReplacement(() => node.db.txsFor("commit", jobId.toString()).slice(1))).resumed).toBe(1);
    } finally {
      await test.setAutomine(true);
    }
    const [old, replacement] = node.db.txsFor("commit", jobId.toString());
    expect(replacement).toMatchObject({ nonce, state: "mined" });
    expect(old).toMatchObject({ hash: first.hash, nonce });
    const raised = parseTransaction(replacement!.raw);
    const was = parseTransaction(first.raw);
    expect(raised.maxFeePerGas! > was.maxFeePerGas!).toBe(true);
    expect(raised.maxPriorityFeePerGas! > was.maxPriorityFeePerGas!).toBe(true);
    expect({ to: raised.to, data: raised.data }).toEqual({ to: was.to, data: was.data });
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Committed);
    expect(node.db.job(jobId)).toMatchObject({ state: "committed", commitTx: replacement!.hash });
    // The first can never land now (its nonce is used), and it no longer counts as pending.
    expect(commitStates(jobId)).toEqual(["dropped", "mined"]);
    expect(await client.publicClient.getTransactionCount({ address: node.address })).toBe(nonce + 1);
  });

  it("a stuck commit whose call would revert by now is cancelled, so the nonce does not hold every later transaction", async () => {
    const jobId = await generatedJob("too late");
    const nonce = await client.publicClient.getTransactionCount({ address: node.address });
    await test.setAutomine(false);
    let first: { hash: Hex; raw: Hex };
    try {
      first = await underpricedCommit(jobId, { pastDeadline: true });
      await passMiningReplacement(() => node.db.txsFor(CANCEL_KIND, first.hash));
    } finally {
      await test.setAutomine(true);
    }
    // The commit would revert now (its deadline passed): a transfer to itself takes the nonce.
    const [cancel] = node.db.txsFor(CANCEL_KIND, first.hash);
    expect(cancel).toMatchObject({ nonce, state: "mined" });
    const tx = parseTransaction(cancel!.raw);
    expect({ to: tx.to?.toLowerCase(), data: tx.data, value: tx.value ?? 0n }).toEqual({ to: node.address.toLowerCase(), data: undefined, value: 0n });
    expect(await client.publicClient.getTransactionCount({ address: node.address })).toBe(nonce + 1);
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open);
    await node.loop.kick();
    expect(commitStates(jobId)).toEqual(["dropped"]);
    expect(node.db.job(jobId)).toMatchObject({ state: "failed" });
  });
});
