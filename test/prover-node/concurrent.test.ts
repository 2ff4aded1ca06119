import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { generate } from "../../runtime/generate.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * Concurrent paid jobs share the continuous batcher (PROTOCOL §4.2 "Serving"): jobs of
 * different prompt lengths are served at once, each with the tokens unbatched generation gives
 * it and its own trace committed on-chain and served from disk; past `maxQueuedJobs` a request
 * is refused with 503 server_busy and the job stays servable.
 */
describe("prover node serves concurrent jobs through the continuous batcher", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  const prompts = [[256, 1, 2], [256, ...Buffer.from("a longer prompt")], [256, ...Buffer.from("mid")], [256, 7]];

  beforeAll(async () => {
    net = await startTestNetwork();
    node = await startProverNode(parseProverConfig(await proverConfigFor(net, "batched", { maxQueuedJobs: 3, serving: { maxBatch: 2 } })), { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
  });
  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  it("three jobs at once (two in the batch, one waiting) are served and committed; a fourth gets 503 server_busy, then is served", async () => {
    const jobs: bigint[] = [];
    for (const tokens of prompts) jobs.push((await openJob(client, { prover: node.address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 10 })).jobId);
    const send = (i: number) =>
      fetch(`${node.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-stepproof-job": jobs[i]!.toString() },
        body: JSON.stringify({ model: net.manifest.modelId, prompt: prompts[i], max_tokens: 10 - i }),
      });
    const responses = await Promise.all(prompts.map((_, i) => send(i)));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { error?: { code: string }; stepproof?: { trace_root: string; output_token_ids: number[] } }[];
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    const refused = statuses.indexOf(503);
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(bodies[refused]!.error!.code).toBe("server_busy");
    expect((await getJob(client, { jobId: jobs[refused]! })).status).toBe(JobStatus.Open);
    const again = await send(refused);
    expect(again.status).toBe(200);
    bodies[refused] = (await again.json()) as never;

    for (const [i, tokens] of prompts.entries()) {
      const body = bodies[i]!.stepproof!;
      const alone = await generate({ modelDir: net.modelDir, promptTokens: tokens, maxNewTokens: 10 - i, samplingParams: 0n, trace: false });
      expect(body.output_token_ids, `job ${i}`).toEqual(alone.outputTokens);
      const job = await getJob(client, { jobId: jobs[i]! });
      expect(job.status).toBe(JobStatus.Committed);
      expect(job.traceRoot).toBe(body.trace_root);
      // The trace on disk is the committed one.
      expect(node.store.jobIds()).toContain(jobs[i]!.toString());
    }
    expect(new Set(bodies.map((b) => b.stepproof!.trace_root)).size).toBe(prompts.length);
  });
});
