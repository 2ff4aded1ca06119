import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { publishPrompt } from "../../protocol/chain/actions/publishPrompt.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { countingConcurrency } from "../helpers/concurrency.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * A client whose prompt never reached the prover over HTTP publishes it on-chain (PROTOCOL
 * §5.3): the prover's loop finds it, serves the job from the chain and commits in time.
 */
describe("a prompt published on-chain", () => {
  let net: TestNetwork;
  let node: ProverNode;

  beforeAll(async () => {
    net = await startTestNetwork();
    node = await startProverNode(parseProverConfig({ ...(await proverConfigFor(net, "published")), logLevel: "warn" }), { account: devAccount(1), runLoop: false });
    await registerProverOnChain(net, 1, node.url);
  });
  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  it("is served and committed by the prover's loop without any HTTP request", async () => {
    const client = await net.as(2);
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), "served from the chain");
    const { jobId } = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 });
    await node.loop.kick();
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open); // nothing to serve yet

    await publishPrompt(client, { jobId, promptTokens: tokens });
    await node.loop.kick();
    const job = await getJob(client, { jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.inputTokens).toBe(tokens.length);
    expect(node.db.job(jobId)?.state).toBe("committed");
  });

  it("several published prompts are generated together, not one after another", async () => {
    const client = await net.as(2);
    const tokenizer = loadTokenizer(net.manifest.tokenizer);
    const jobs: bigint[] = [];
    for (const text of ["one of three", "two of three", "three of three"]) {
      const tokens = completionPromptTokens(tokenizer, text);
      const { jobId } = await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 });
      await publishPrompt(client, { jobId, promptTokens: tokens });
      jobs.push(jobId);
    }
    const run = node.jobs.run;
    const counted = countingConcurrency(run.bind(node.jobs));
    node.jobs.run = counted.fn;
    try {
      await node.loop.kick();
    } finally {
      node.jobs.run = run;
    }
    expect(counted.most()).toBe(3); // one after another would be 1
    for (const jobId of jobs) expect((await getJob(client, { jobId })).status).toBe(JobStatus.Committed);
  });
});
