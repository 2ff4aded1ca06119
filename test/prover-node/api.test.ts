import OpenAI from "openai";
import { signedGet } from "../../protocol/auth/signed-fetch.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { chunkLeaf, tokenLeaf, tokenRoot, TRACE_DOMAIN, verifyProof } from "../../protocol/commitments/index.js";
import { chatPromptTokens, completionPromptTokens, promptRoot, type ChatMessage } from "../../protocol/prompt/prompt.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";
import { hexToBytes, parseEther, type Hex } from "viem";

type Stepproof = { job_id: string; trace_root: Hex; output_root: Hex; output_token_ids: number[]; input_tokens: number; output_tokens: number; commit_tx: Hex | null };

/**
 * The official openai client against a prover node on a Hardhat JSON-RPC chain: completions and
 * chat, streamed and not; each job committed on-chain with the right counts, output hash and
 * trace root, and the trace endpoint's proofs verify against the on-chain root.
 */
describe("prover node serves paid jobs to the openai client", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  let openai: OpenAI;
  /** What the loop hands the dispute responder each tick (only live disputes: none here). */
  const responderCalls: unknown[] = [];
  /** Signed GET as dev account `i` (PROTOCOL §5.7): the job's client here is account 2. */
  const get = async (i: number, url: string) => signedGet({ account: devAccount(i), chainId: 31337, prover: devAccount(1).address, url });

  beforeAll(async () => {
    net = await startTestNetwork();
    const config = parseProverConfig(await proverConfigFor(net, "honest"));
    node = await startProverNode(config, {
      account: devAccount(1),
      runLoop: false,
      disputeResponder: async ({ disputes }) => {
        responderCalls.push(disputes);
      },
    });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const open = async (tokens: number[], maxOut: number) =>
    (await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: maxOut })).jobId;

  /** The on-chain commitment must match what the node returned. */
  const expectCommitted = async (jobId: bigint, inputTokens: number, sp: Stepproof) => {
    expect(sp.job_id).toBe(jobId.toString());
    expect(sp.commit_tx).toMatch(/^0x[0-9a-f]{64}$/);
    const job = await getJob(client, { jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.traceRoot).toBe(sp.trace_root);
    expect(job.inputTokens).toBe(inputTokens);
    expect(job.outputTokens).toBe(sp.output_token_ids.length);
    expect(job.outputRoot).toBe(tokenRoot(sp.output_token_ids, inputTokens));
    expect(sp.output_root).toBe(job.outputRoot);
  };

  it("completions, not streamed, job named by header; the trace endpoint proves chunks against the on-chain root", async () => {
    const prompt = "The quick brown fox";
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), prompt);
    const jobId = await open(tokens, 12);
    const res = await openai.completions.create({ model: net.manifest.modelId, prompt, max_tokens: 12 }, { headers: { "x-stepproof-job": jobId.toString() } });
    const sp = (res as unknown as { stepproof: Stepproof }).stepproof;
    expect(res.usage).toEqual({ prompt_tokens: tokens.length, completion_tokens: sp.output_token_ids.length, total_tokens: tokens.length + sp.output_token_ids.length });
    expect(res.choices[0]!.text).toBe(loadTokenizer(net.manifest.tokenizer).decode(sp.output_token_ids));
    await expectCommitted(jobId, tokens.length, sp);

    const root = (await getJob(client, { jobId })).traceRoot;
    const n = tokens.length + sp.output_token_ids.length;
    const layer = 2;
    const hidden = (await (await get(2, `${node.url}/v1/jobs/${jobId}/trace?layer=${layer}&positions=0,3,${n - 2}`)).json()) as { trace_root: Hex; chunks: { tensorId: number; row: number; chunkIndex: number; chunk: Hex; leaf: Hex; proof: Hex[] }[] };
    expect(hidden.trace_root).toBe(root);
    const perRow = Math.ceil(net.manifest.architecture.hidden / net.manifest.encoding.chunkSize);
    expect(hidden.chunks).toHaveLength(3 * perRow);
    for (const c of hidden.chunks) {
      expect(c.tensorId).toBe(layer);
      const leaf = chunkLeaf({ domain: TRACE_DOMAIN, tensorId: c.tensorId, row: c.row, chunkIndex: c.chunkIndex }, hexToBytes(c.chunk));
      expect(leaf).toBe(c.leaf);
      expect(verifyProof(leaf, c.proof, root)).toBe(true);
    }
    const toks = (await (await get(2, `${node.url}/v1/jobs/${jobId}/trace?layer=tokens&positions=0-${n - 1}`)).json()) as { chunks: { row: number; chunk: Hex; leaf: Hex; proof: Hex[] }[] };
    const ids = toks.chunks.map((c) => new DataView(hexToBytes(c.chunk).buffer).getUint32(0, true));
    expect(ids).toEqual([...tokens, ...sp.output_token_ids]);
    // Token leaves are proven against the job's token roots (PROTOCOL §3.4), not the trace root.
    const onchain = await getJob(client, { jobId });
    for (const c of toks.chunks) {
      expect(c.leaf).toBe(tokenLeaf(c.row, ids[c.row]!));
      expect(verifyProof(c.leaf, c.proof, c.row < tokens.length ? onchain.promptRoot : onchain.outputRoot)).toBe(true);
    }
    // A tampered chunk does not verify: the check above can fail.
    const bad = hexToBytes(hidden.chunks[0]!.chunk);
    bad[0] = bad[0]! ^ 1;
    expect(verifyProof(chunkLeaf({ domain: TRACE_DOMAIN, tensorId: layer, row: 0, chunkIndex: 0 }, bad), hidden.chunks[0]!.proof, root)).toBe(false);
  });

  it("trace data goes to the job's client and registered verifiers only: a stranger is refused, a replayed signature too", async () => {
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), "Private prompt");
    const jobId = await open(tokens, 4);
    await openai.completions.create({ model: net.manifest.modelId, prompt: "Private prompt", max_tokens: 4 }, { headers: { "x-stepproof-job": jobId.toString() } });
    const url = `${node.url}/v1/jobs/${jobId}/trace?layer=tokens&positions=0-1`;
    // Unsigned: 401, and the body does not even say whether the job exists.
    const unsigned = await fetch(url);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe("signature_required");
    expect((await fetch(`${node.url}/v1/jobs/${jobId}`)).status).toBe(401);
    // Signed by a stranger (account 4: neither the client nor a registered verifier): 403.
    const stranger = await get(4, url);
    expect(stranger.status).toBe(403);
    expect(((await stranger.json()) as { error: { code: string } }).error.code).toBe("not_entitled");
    // A signature made for another prover is no good here.
    expect((await signedGet({ account: devAccount(2), chainId: 31337, prover: devAccount(5).address, url })).status).toBe(401);
    // The registered verifier (account 3, the model's audit pool) is served.
    const verifier = await get(3, url);
    expect(verifier.status).toBe(200);
    expect(((await verifier.json()) as { chunks: unknown[] }).chunks).toHaveLength(2);
    // The same signed request sent twice: the second is a replay.
    const { signRequest } = await import("../../protocol/auth/request-signature.js");
    const target = new URL(url);
    const headers = await signRequest(devAccount(2), { chainId: 31337, prover: devAccount(1).address, method: "GET", target: `${target.pathname}${target.search}` });
    expect((await fetch(url, { headers })).status).toBe(200);
    const replay = await fetch(url, { headers });
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe("signature_replayed");
    // Signed over another query: refused (the query is part of what is signed).
    expect((await fetch(`${node.url}/v1/jobs/${jobId}/trace?layer=tokens&positions=0-2`, { headers: await signRequest(devAccount(2), { chainId: 31337, prover: devAccount(1).address, method: "GET", target: `${target.pathname}${target.search}` }) })).status).toBe(401);
  });

  it("completions, streamed, job named by a body field", async () => {
    const prompt = "Once upon a time";
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), prompt);
    const jobId = await open(tokens, 10);
    const stream = await openai.completions.create({ model: net.manifest.modelId, prompt, max_tokens: 10, stream: true, stepproof_job_id: jobId.toString() } as OpenAI.CompletionCreateParamsStreaming);
    let text = "";
    let sp: Stepproof | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.text ?? "";
      sp ??= (chunk as unknown as { stepproof?: Stepproof }).stepproof;
    }
    expect(sp).toBeDefined();
    expect(chunks).toBeGreaterThan(sp!.output_token_ids.length); // one per token, then the final one
    expect(text).toBe(loadTokenizer(net.manifest.tokenizer).decode(sp!.output_token_ids));
    await expectCommitted(jobId, tokens.length, sp!);
  });

  it("chat, not streamed and streamed, with the canonical rendering", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Say hi" },
    ];
    const tokens = chatPromptTokens(loadTokenizer(net.manifest.tokenizer), messages);
    const jobA = await open(tokens, 8);
    const res = await openai.chat.completions.create({ model: net.manifest.name, messages: messages as OpenAI.ChatCompletionMessageParam[], max_tokens: 8 }, { headers: { "x-stepproof-job": jobA.toString() } });
    const spA = (res as unknown as { stepproof: Stepproof }).stepproof;
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]!.message.role).toBe("assistant");
    expect(res.choices[0]!.message.content).toBe(loadTokenizer(net.manifest.tokenizer).decode(spA.output_token_ids));
    await expectCommitted(jobA, tokens.length, spA);

    const jobB = await open(tokens, 8);
    const stream = await openai.chat.completions.create({ model: net.manifest.modelId, messages: messages as OpenAI.ChatCompletionMessageParam[], max_tokens: 8, stream: true }, { headers: { "x-stepproof-job": jobB.toString() } });
    let content = "";
    let sp: Stepproof | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta?.content ?? "";
      sp ??= (chunk as unknown as { stepproof?: Stepproof }).stepproof;
    }
    expect(content).toBe(loadTokenizer(net.manifest.tokenizer).decode(sp!.output_token_ids));
    // Same prompt and greedy sampling: the same output and trace on the second job.
    expect(sp!.output_token_ids).toEqual(spA.output_token_ids);
    expect(sp!.trace_root).toBe(spA.trace_root);
    await expectCommitted(jobB, tokens.length, sp!);
  });

  it("a client that disconnects mid-stream does not stop the job: it is generated and committed", async () => {
    const prompt = "Hang up on me";
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), prompt);
    const jobId = await open(tokens, 40);
    const abort = new AbortController();
    const res = await fetch(`${node.url}/v1/completions`, { method: "POST", signal: abort.signal, headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() }, body: JSON.stringify({ model: net.manifest.modelId, prompt, max_tokens: 40, stream: true }) });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^data: \{/);
    abort.abort();
    // Wait for the commitment on-chain (each commit mines a block on this chain).
    const committed = await new Promise<void>((resolve, reject) => {
      const stop = client.publicClient.watchBlockNumber({
        emitOnBegin: true,
        pollingInterval: 100,
        onBlockNumber: () =>
          void getJob(client, { jobId }).then((j) => {
            if (j.status === JobStatus.Committed) (stop(), resolve());
          }, reject),
      });
    });
    expect(committed).toBeUndefined();
    const job = await getJob(client, { jobId });
    expect(job.traceRoot).toBe(node.db.job(jobId)!.traceRoot);
    expect(job.inputTokens).toBe(tokens.length);
  });

  it("lists the model, reports health and metrics", async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual([net.manifest.modelId]);
    const health = (await (await fetch(`${node.url}/healthz`)).json()) as { ok: boolean; jobs: Record<string, number>; chainHead: string };
    expect(health.ok).toBe(true);
    expect(BigInt(health.chainHead)).toBe(await client.publicClient.getBlockNumber());
    expect(health.jobs["committed"]).toBe(6);
    expect(health).toMatchObject({ capacity: { stake: parseEther("500").toString(), exposureLimit: expect.any(String) } });
    // Asked about a job its stake cannot collateralise, the node says so (and why) before anyone pays.
    const tooBig = await fetch(`${node.url}/healthz?input_tokens=10&max_tokens=100000000`);
    expect(tooBig.status).toBe(503);
    const refusal = ((await tooBig.json()) as { error: { code: string; message: string } }).error;
    expect(["insufficient_stake", "insufficient_deterrence"]).toContain(refusal.code);
    expect(refusal.message).toMatch(/PROTOCOL §9\.4/);
    expect((await fetch(`${node.url}/healthz?input_tokens=10&max_tokens=4`)).status).toBe(200);
    // Metrics are the operator's: its own key (or a configured reader) signs, anyone else is refused.
    expect((await fetch(`${node.url}/metrics`)).status).toBe(401);
    expect((await get(2, `${node.url}/metrics`)).status).toBe(403);
    const metrics = await (await get(1, `${node.url}/metrics`)).text();
    expect(metrics).toMatch(/stepproof_prover_commits_total 6/);
    expect(metrics).toMatch(/stepproof_prover_free_stake \d/);
    expect(metrics).toMatch(/stepproof_prover_exposure_limit \d/);
  });

  it("a loop pass reads no job that is not due; after the window it finalizes and withdraws", async () => {
    await node.loop.kick(); // records the six challenge deadlines (one batched read)
    // Six committed jobs, none due: the pass costs what an empty node's pass costs (issue #15:
    // it used to read every committed job, every pass).
    const busy = await node.loop.kick();
    expect(responderCalls).toEqual([]); // no dispute, nothing to respond to
    await net.advance(3600 + 1);
    const report = await node.loop.kick();
    expect(report.finalized).toBe(6);
    expect(report.withdrawn).toBeGreaterThan(0n);
    expect(node.db.countByState()).toEqual({ settled: 6 });
    // A tick finds nothing to do (the next one also has no new block to read), and costs what
    // the pass with six open jobs cost.
    await node.loop.kick();
    const idle = await node.loop.kick();
    expect(idle).toMatchObject({ resumed: 0, committed: 0, finalized: 0, settled: 0, withdrawn: 0n });
    expect(busy.rpcRequests).toBe(idle.rpcRequests);
  });
});
