import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestClient, getAbiItem, http, type Hex } from "viem";
import { jobEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { parseProverConfig, type ProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

type Served = { stepproof: { job_id: string; trace_root: Hex; commit_tx: Hex | null } };

/**
 * The prover answers a paid request once the trace is stored and the commit transaction is
 * signed, persisted and broadcast — not after its receipt — so one account's transactions do
 * not serialise the requests. With the chain not mining, answers still arrive (each with its
 * commit's hash, consecutive nonces), and the commits land when blocks come; a commit sent but
 * not mined when the node stops is rebroadcast from the database after a restart.
 */
describe("prover answers before its commit is mined", () => {
  let net: TestNetwork;
  let config: ProverConfig;
  let node: ProverNode | undefined;
  let client: StepproofClients;
  let test: ReturnType<typeof createTestClient>;

  beforeAll(async () => {
    net = await startTestNetwork();
    config = parseProverConfig(await proverConfigFor(net, "pipelined", { maxQueuedJobs: 4, serving: { maxBatch: 2 } }));
    node = await startProverNode(config, { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    test = createTestClient({ mode: net.chain.kind, transport: http(net.chain.url) });
  });
  afterAll(async () => {
    await test?.setAutomine(true).catch(() => {});
    await node?.close();
    await net?.cleanup();
  });

  const open = async (tokens: number[]) => (await openJob(client, { prover: node!.address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 })).jobId;
  const request = async (jobId: bigint, tokens: number[]): Promise<Served> => {
    const res = await fetch(`${node!.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() },
      body: JSON.stringify({ model: net.manifest.modelId, prompt: tokens, max_tokens: 6 }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Served;
  };
  const mined = (hash: Hex) => client.publicClient.getTransactionReceipt({ hash }).then(
    (r) => r,
    () => undefined,
  );
  const until = async (what: string, ok: () => boolean | Promise<boolean>) => {
    const end = Date.now() + 20_000;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it("answers two concurrent jobs while no block is mined; both commits land with the next block", async () => {
    const prompts = [[256, 1, 2], [256, ...Buffer.from("pipelined")]];
    const jobs = [await open(prompts[0]!), await open(prompts[1]!)];
    const nonce = await client.publicClient.getTransactionCount({ address: node!.address });
    await test.setAutomine(false);
    const bodies = await Promise.all(jobs.map((j, i) => request(j, prompts[i]!)));
    const hashes = bodies.map((b) => b.stepproof.commit_tx);
    for (const [i, h] of hashes.entries()) {
      expect(h, `job ${i}`).toMatch(/^0x[0-9a-f]{64}$/);
      expect(await mined(h!), `job ${i}'s commit is answered unmined`).toBeUndefined();
      expect((await getJob(client, { jobId: jobs[i]! })).status).toBe(JobStatus.Open);
      expect(node!.db.job(jobs[i]!)!.state).toBe("generated");
      expect(node!.db.txsFor("commit", jobs[i]!.toString()).map((t) => t.state)).toEqual(["pending"]);
    }
    // Signed back to back with consecutive nonces, neither waiting for the other's receipt.
    const nonces = jobs.map((j) => node!.db.txsFor("commit", j.toString())[0]!.nonce).sort((a, b) => a - b);
    expect(nonces).toEqual([nonce, nonce + 1]);

    await test.mine({ blocks: 1 });
    for (const [i, jobId] of jobs.entries()) {
      expect((await mined(hashes[i]!))!.status).toBe("success");
      const job = await getJob(client, { jobId });
      expect(job.status).toBe(JobStatus.Committed);
      expect(job.traceRoot).toBe(bodies[i]!.stepproof.trace_root);
      await until(`job ${i} recorded as committed`, () => node!.db.job(jobId)!.state === "committed");
      expect(node!.db.job(jobId)!.commitTx).toBe(hashes[i]);
    }
    await test.setAutomine(true);
  });

  it("the request and the loop committing one job at once send one transaction, not two", async () => {
    const tokens = [256, ...Buffer.from("twice")];
    const jobId = await open(tokens);
    // Generated, not yet committed, as the request leaves it just before its commit (roots are
    // the contract's to accept, not to check: a dispute would).
    const job = await getJob(client, { jobId });
    expect(node!.db.claimJob(jobId, tokens.length, Number(job.commitDeadline), () => false)).toBe(true);
    node!.db.markGenerated(jobId, { outputTokenIds: [1, 2], traceRoot: `0x${"11".repeat(32)}`, outputRoot: `0x${"22".repeat(32)}`, corrupted: false });
    await test.setAutomine(false); // as on a real chain: the first commit is not mined before the second reads the job
    let hashes: (Hex | undefined)[];
    try {
      hashes = await Promise.all([node!.jobs.commit(jobId, { waitForReceipt: false }), node!.jobs.commit(jobId, { waitForReceipt: false })]);
      expect(hashes[0]).toMatch(/^0x[0-9a-f]{64}$/);
      expect(hashes[1]).toBe(hashes[0]);
      expect(node!.db.txsFor("commit", jobId.toString())).toHaveLength(1);
      await test.mine({ blocks: 1 });
    } finally {
      await test.setAutomine(true); // a failure here must not leave the chain not mining for the next test
    }
    expect((await mined(hashes[0]!))!.status).toBe("success");
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Committed);
    await until("the commit recorded as mined", () => node!.db.txsFor("commit", jobId.toString()).every((t) => t.state !== "pending") && node!.db.job(jobId)!.state === "committed");
  });

  it("a commit answered but not mined when the node stops is rebroadcast from the database after a restart", async () => {
    const tokens = [256, ...Buffer.from("restart")];
    const jobId = await open(tokens);
    const nonce = await client.publicClient.getTransactionCount({ address: node!.address });
    await test.setAutomine(false);
    const body = await request(jobId, tokens);
    const hash = body.stepproof.commit_tx!;
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    await node!.close();
    node = undefined;
    // The chain loses it (a node restarted, a mempool evicted it): only the prover's database has it.
    await test.dropTransaction({ hash });
    await test.setAutomine(true);
    expect(await mined(hash)).toBeUndefined();
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open);

    node = await startProverNode(config, { account: devAccount(1), runLoop: false, disputeResponder: false });
    const report = await node.loop.kick();
    expect(report.resumed).toBe(1);
    expect((await mined(hash))!.status).toBe("success");
    const job = await getJob(client, { jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.traceRoot).toBe(body.stepproof.trace_root);
    expect(node.db.job(jobId)).toMatchObject({ state: "committed", commitTx: hash });
    expect(await client.publicClient.getTransactionCount({ address: node.address })).toBe(nonce + 1);
    const commits = await client.publicClient.getLogs({ address: client.deployment.contracts.jobEscrow, event: getAbiItem({ abi: jobEscrowAbi, name: "ResultCommitted" }), args: { jobId }, fromBlock: 0n });
    expect(commits).toHaveLength(1);
  });
});
