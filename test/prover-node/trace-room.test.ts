import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { TraceStore } from "../../runtime/trace/store.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

const PROMPT = [256, 1, 2];
const MAX_TOKENS = 10;

/**
 * Admission holds room for a job's whole trace (PROTOCOL §4.5): with a store that has room for
 * one trace, two jobs sent together are one 200 and one 507 trace_store_full at admission —
 * not two admitted jobs of which one fails mid-generation — and the refused job is left as it
 * was, servable once there is room.
 */
describe("prover node holds trace-store room at admission", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;

  beforeAll(async () => {
    net = await startTestNetwork();
    const { architecture: a, encoding: e } = net.manifest;
    const oneTrace = TraceStore.traceBytes({ layers: a.layers, hidden: a.hidden, chunkSize: e.chunkSize, dtype: e.traceDtype }, PROMPT.length + MAX_TOKENS);
    const config = await proverConfigFor(net, "room", {});
    node = await startProverNode(parseProverConfig({ ...config, traceStore: { ...config.traceStore!, maxBytes: Math.floor(1.5 * oneTrace) } }), { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
  });
  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  it("two jobs at once: one served, one refused with 507 before anything changed; served once room is freed", async () => {
    const jobs: bigint[] = [];
    for (let i = 0; i < 2; i++) jobs.push((await openJob(client, { prover: node.address, modelId: net.manifest.modelId, promptRoot: promptRoot(PROMPT), inputTokens: PROMPT.length, maxOutputTokens: MAX_TOKENS })).jobId);
    const send = (i: number) =>
      fetch(`${node.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-stepproof-job": jobs[i]!.toString() },
        body: JSON.stringify({ model: net.manifest.modelId, prompt: PROMPT, max_tokens: MAX_TOKENS }),
      });
    // Count the traces begun: the refused job must not have started one (refused at admission, not mid-generation).
    const begun: string[] = [];
    const begin = node.store.begin.bind(node.store);
    node.store.begin = (id, ...rest) => (begun.push(id), begin(id, ...rest));
    const responses = await Promise.all([send(0), send(1)]);
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { error?: { code: string; message: string } }[];
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 507]);
    const refused = responses.findIndex((r) => r.status === 507);
    const served = 1 - refused;
    expect(bodies[refused]!.error!.code).toBe("trace_store_full");
    expect(bodies[refused]!.error!.message).toMatch(/held for jobs admitted before it/);
    // Nothing changed for the refused job: open on-chain, no trace, no hold left behind.
    expect((await getJob(client, { jobId: jobs[refused]! })).status).toBe(JobStatus.Open);
    expect(begun).toEqual([jobs[served]!.toString()]);
    expect(node.store.jobIds()).toEqual([jobs[served]!.toString()]);
    expect(node.store.heldBytes).toBe(0);
    expect((await getJob(client, { jobId: jobs[served]! })).status).toBe(JobStatus.Committed);

    // The served trace is pruned (settled, say): the refused job now fits. Sent twice at once,
    // it is served once; the other request is told it is served, and no hold is left behind.
    node.store.remove(jobs[served]!.toString());
    const twice = await Promise.all([send(refused), send(refused)]);
    expect(twice.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(((await twice.find((r) => r.status === 409)!.json()) as { error: { code: string } }).error.code).toBe("job_already_served");
    expect(node.store.heldBytes).toBe(0);
    expect((await getJob(client, { jobId: jobs[refused]! })).status).toBe(JobStatus.Committed);
  });
});
