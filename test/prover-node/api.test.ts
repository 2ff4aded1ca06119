import OpenAI from "openai";
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
import { hexToBytes, type Hex } from "viem";

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
  /** What the loop hands the dispute responder each tick. */
  const responderCalls: { jobIds: bigint[]; roots: (string | undefined)[] }[] = [];

  beforeAll(async () => {
    net = await startTestNetwork();
    const config = parseProverConfig(await proverConfigFor(net, "honest"));
    node = await startProverNode(config, {
      account: devAccount(1),
      runLoop: false,
      disputeResponder: async ({ jobIds, traceFor }) => {
        responderCalls.push({ jobIds: [...jobIds], roots: jobIds.map((id) => (traceFor(id) as { root?: string } | undefined)?.root) });
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
    const hidden = (await (await fetch(`${node.url}/v1/jobs/${jobId}/trace?layer=${layer}&positions=0,3,${n - 2}`)).json()) as { trace_root: Hex; chunks: { tensorId: number; row: number; chunkIndex: number; chunk: Hex; leaf: Hex; proof: Hex[] }[] };
    expect(hidden.trace_root).toBe(root);
    const perRow = Math.ceil(net.manifest.architecture.hidden / net.manifest.encoding.chunkSize);
    expect(hidden.chunks).toHaveLength(3 * perRow);
    for (const c of hidden.chunks) {
      expect(c.tensorId).toBe(layer);
      const leaf = chunkLeaf({ domain: TRACE_DOMAIN, tensorId: c.tensorId, row: c.row, chunkIndex: c.chunkIndex }, hexToBytes(c.chunk));
      expect(leaf).toBe(c.leaf);
      expect(verifyProof(leaf, c.proof, root)).toBe(true);
    }
    const toks = (await (await fetch(`${node.url}/v1/jobs/${jobId}/trace?layer=tokens&positions=0-${n - 1}`)).json()) as { chunks: { row: number; chunk: Hex; leaf: Hex; proof: Hex[] }[] };
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
    expect(health.jobs["committed"]).toBe(5);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/stepproof_prover_commits_total 5/);
  });

  it("the loop hands committed jobs and their traces to the dispute responder, then finalizes after the window and withdraws", async () => {
    await node.loop.kick();
    const call = responderCalls.at(-1)!;
    expect(call.jobIds).toHaveLength(5);
    for (const [i, id] of call.jobIds.entries()) expect(call.roots[i]).toBe((await getJob(client, { jobId: id })).traceRoot);
    await net.advance(3600 + 1);
    const report = await node.loop.kick();
    expect(report.finalized).toBe(5);
    expect(report.withdrawn).toBeGreaterThan(0n);
    expect(node.db.countByState()).toEqual({ settled: 5 });
    // A second tick finds nothing to do.
    expect(await node.loop.kick()).toEqual({ resumed: 0, committed: 0, finalized: 0, settled: 0, withdrawn: 0n });
  });
});
