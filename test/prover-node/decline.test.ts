import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { publishPrompt } from "../../protocol/chain/actions/publishPrompt.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { jobEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * A prover declines on-chain (PROTOCOL §5.3) what it cannot serve, instead of letting the
 * deadline pass: the client is refunded in full and the prover keeps its stake.
 */
describe("the prover node declines jobs it cannot serve", () => {
  let net: TestNetwork;
  let node: ProverNode;

  beforeAll(async () => {
    net = await startTestNetwork();
    // One job at a time: a second published prompt cannot be admitted in this tick. The loop is
    // kicked by hand, but its interval sets how long a busy node may wait (40 s margin).
    node = await startProverNode(parseProverConfig({ ...(await proverConfigFor(net, "decline", { maxQueuedJobs: 1, loopIntervalMs: 5_000 })), logLevel: "error" }), { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
  });
  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const credits = async (who: `0x${string}`) => {
    const c = await net.as(2);
    return c.publicClient.readContract({ address: c.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [who] });
  };

  it("a prompt matching promptRoot with an id outside the vocabulary: 400 invalid_token_id and the job declined", async () => {
    const client = await net.as(2);
    const vocab = net.manifest.architecture.vocab;
    const tokens = [256, 72, vocab, 105]; // bos, "H", out of range, "i"
    const { jobId, escrowed } = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 4 });
    const before = await credits(devAccount(2).address);
    const res = await fetch(`${node.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() }, body: JSON.stringify({ model: net.manifest.modelId, prompt: tokens, max_tokens: 4 }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("invalid_token_id");
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Declined);
    expect((await credits(devAccount(2).address)) - before).toBe(escrowed);
    expect(node.db.job(jobId)).toBeUndefined();
    // The same out-of-vocabulary prompt cannot be published on-chain either.
    const other = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 4 });
    await expect(publishPrompt(client, { jobId: other.jobId, promptTokens: tokens })).rejects.toThrow(/InvalidTokenId/);
  });

  it("a request with someone else's prompt for the job declines nothing", async () => {
    const client = await net.as(2);
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), "the real prompt");
    const { jobId } = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 4 });
    const junk = [...tokens.slice(0, -1), net.manifest.architecture.vocab + 5];
    const res = await fetch(`${node.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() }, body: JSON.stringify({ model: net.manifest.modelId, prompt: junk, max_tokens: 4 }) });
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("prompt_mismatch");
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open);
  });

  it("a published prompt the node has no room for waits while the decline window lasts and is served a pass later", async () => {
    const client = await net.as(2);
    const a = await openAndPublish(client, "first published");
    const b = await openAndPublish(client, "second published");
    await node.loop.kick();
    // One job at a time: b was refused for room (server_busy), with most of its window left.
    expect((await getJob(client, { jobId: a })).status).toBe(JobStatus.Committed);
    expect((await getJob(client, { jobId: b })).status).toBe(JobStatus.Open);
    await node.loop.kick();
    expect((await getJob(client, { jobId: b })).status).toBe(JobStatus.Committed);
  });

  it("a published prompt still refused for room near the end of its decline window is declined, the client refunded", async () => {
    const client = await net.as(2);
    const c = await openAndPublish(client, "third published");
    const d = await openAndPublish(client, "fourth published");
    // 120 s window, a 5 s loop: the margin is 30 + 2·5 = 40 s, so past 80 s a busy node declines.
    await net.advance(95);
    const before = await credits(devAccount(2).address);
    await node.loop.kick();
    const [jc, jd] = [await getJob(client, { jobId: c }), await getJob(client, { jobId: d })];
    expect(jc.status).toBe(JobStatus.Committed);
    expect(jd.status).toBe(JobStatus.Declined);
    // Declined: the client is refunded the whole escrow at once, no deadline to wait for.
    expect((await credits(devAccount(2).address)) - before).toBe(jd.escrowed);
  });

  it("admissions a pass does not run (a decline after them throws) are undone: claim, trace room and queue place", async () => {
    const client = await net.as(2);
    const e = await openAndPublish(client, "fifth published");
    const f = await openAndPublish(client, "sixth published");
    await net.advance(95); // f, refused for room, is declined at once; that decline fails
    const decline = node.jobs.decline;
    node.jobs.decline = () => Promise.reject(new Error("injected: the chain refused the decline"));
    try {
      await node.loop.kick();
    } finally {
      node.jobs.decline = decline;
    }
    // e was admitted before f's decline threw, then never run: nothing of it may stay taken.
    expect((await getJob(client, { jobId: e })).status).toBe(JobStatus.Open);
    expect(node.db.job(e)).toBeUndefined();
    expect(node.store.heldBytes).toBe(0);
    expect(node.jobs.queued).toBe(0);
    // The next pass serves e and declines f (a node that kept e's claim would refuse e as served).
    await node.loop.kick();
    expect((await getJob(client, { jobId: e })).status).toBe(JobStatus.Committed);
    expect((await getJob(client, { jobId: f })).status).toBe(JobStatus.Declined);
  });

  it("a busy node whose decline window closed still serves the prompt when room comes, before the commit deadline", async () => {
    const client = await net.as(2);
    const g = await openAndPublish(client, "seventh published");
    const h = await openAndPublish(client, "eighth published");
    // Past the 120 s window (a pass that ran long, say): h can no longer be declined.
    await net.advance(125);
    await node.loop.kick();
    expect((await getJob(client, { jobId: g })).status).toBe(JobStatus.Committed);
    expect((await getJob(client, { jobId: h })).status).toBe(JobStatus.Open);
    // Given up here, h would expire and cost the prover its penalty; it is served instead.
    await node.loop.kick();
    expect((await getJob(client, { jobId: h })).status).toBe(JobStatus.Committed);
  });

  const openAndPublish = async (client: Awaited<ReturnType<TestNetwork["as"]>>, text: string) => {
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), text);
    const { jobId } = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 4 });
    await publishPrompt(client, { jobId, promptTokens: tokens });
    return jobId;
  };
});
