import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { signedGet } from "../../protocol/auth/signed-fetch.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * Every refusal is a 4xx with an OpenAI-style error body and changes nothing: no database row,
 * no trace on disk, no transaction, the job still Open — shown by serving the same job
 * successfully afterwards.
 */
describe("prover node refuses bad input without changing state", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  const prompt = "hello there";
  let tokens: number[];
  let jobId: bigint;
  let otherJob: bigint;

  beforeAll(async () => {
    net = await startTestNetwork({ auditor: 6 }); // account 3 is a second prover here
    node = await startProverNode(parseProverConfig(await proverConfigFor(net, "p", { endpoint: { port: 0, bodyLimit: 4096 } })), { account: devAccount(1), runLoop: false });
    await registerProverOnChain(net, 1, node.url);
    await registerProverOnChain(net, 3, "http://127.0.0.1:9"); // another prover, no node
    client = await net.as(2);
    tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), prompt);
    const open = async (prover: `0x${string}`) => (await openJob(client, { prover, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 })).jobId;
    jobId = await open(devAccount(1).address);
    otherJob = await open(devAccount(3).address);
  });

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const post = (body: string, headers: Record<string, string> = {}, route = "/v1/completions") =>
    fetch(`${node.url}${route}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const json = (o: unknown) => JSON.stringify(o);
  const valid = (over: Record<string, unknown> = {}) => ({ model: net.manifest.modelId, prompt, max_tokens: 6, stepproof_job_id: jobId.toString(), ...over });

  const snapshot = async () => ({
    rows: node.db.countByState(),
    traces: node.store.jobIds(),
    nonce: await client.publicClient.getTransactionCount({ address: devAccount(1).address }),
    status: (await getJob(client, { jobId })).status,
  });

  const cases: [string, () => Promise<Response>, number, string][] = [
    ["malformed JSON", () => post('{"model": "x", "prompt": '), 400, "invalid_json"],
    ["a body over the size limit", () => post(json(valid({ prompt: "x".repeat(8000) }))), 413, "body_too_large"],
    ["a non-JSON content type", () => fetch(`${node.url}/v1/completions`, { method: "POST", headers: { "content-type": "text/plain" }, body: "hi" }), 415, "unsupported_media_type"],
    ["no prompt", () => post(json({ model: net.manifest.modelId, stepproof_job_id: jobId.toString() })), 400, "invalid_request"],
    ["n = 2", () => post(json(valid({ n: 2 }))), 400, "invalid_request"],
    ["no job id", () => post(json(valid({ stepproof_job_id: undefined }))), 400, "missing_job_id"],
    ["a malformed job header", () => post(json(valid({ stepproof_job_id: undefined })), { "x-stepproof-job": "0x01" }), 400, "invalid_job_id"],
    ["header and body naming different jobs", () => post(json(valid()), { "x-stepproof-job": String(jobId + 1n) }), 400, "invalid_job_id"],
    // Not visible to this node's RPC (yet, for a job just opened): retryable, so the client does not publish the prompt.
    ["an unknown job", () => post(json(valid({ stepproof_job_id: "999999" }))), 503, "job_not_visible"],
    ["a job for another prover", () => post(json(valid({ stepproof_job_id: otherJob.toString() }))), 403, "wrong_prover"],
    ["a model this node does not serve", () => post(json(valid({ model: "gpt-4" }))), 404, "model_not_found"],
    ["a prompt that does not match promptRoot", () => post(json(valid({ prompt: "hello therE" }))), 400, "prompt_mismatch"],
    ["a prompt longer than the job's inputTokens", () => post(json(valid({ prompt: `${prompt}!` }))), 400, "prompt_length_mismatch"],
    ["a prompt shorter than the job's inputTokens", () => post(json(valid({ prompt: prompt.slice(0, -1) }))), 400, "prompt_length_mismatch"],
    ["max_tokens above the job's limit", () => post(json(valid({ max_tokens: 7 }))), 400, "max_tokens_exceeds_job"],
    ["a chat message with an unknown role", () => post(json({ model: net.manifest.modelId, messages: [{ role: "wizard", content: "x" }], stepproof_job_id: jobId.toString() }), {}, "/v1/chat/completions"), 400, "invalid_request"],
    // Signed by a registered verifier (account 6, the audit pool): the job is simply not served here.
    ["trace of a job never served", () => signedGet({ account: devAccount(6), chainId: 31337, prover: devAccount(1).address, url: `${node.url}/v1/jobs/${jobId}/trace?layer=1&positions=0` }), 404, "job_not_found"],
    // Unsigned: refused before the job is even looked up (PROTOCOL §5.7).
    ["trace request without a signature", () => fetch(`${node.url}/v1/jobs/${jobId}/trace?layer=1&positions=0`), 401, "signature_required"],
  ];

  it.each(cases)("%s → refused, nothing changed", async (_name, send, status, code) => {
    const before = await snapshot();
    const res = await send();
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(await snapshot()).toEqual(before);
    expect(before.status).toBe(JobStatus.Open);
  });

  it("random bodies never cause a 5xx or a state change (seeded fuzz)", async () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const values = [null, true, 0, -1, 1.5, 2 ** 53, "", "x", "0", [], [1, 2], [-1], {}, { a: 1 }, jobId.toString(), net.manifest.modelId];
    const keys = ["model", "prompt", "messages", "max_tokens", "stream", "n", "stepproof_job_id", "echo", "temperature"];
    const before = await snapshot();
    for (let i = 0; i < 150; i++) {
      const body: Record<string, unknown> = rand() < 0.5 ? valid() : {};
      for (let k = Math.floor(rand() * 4); k >= 0; k--) body[pick(keys)] = pick(values);
      // Keep a fuzzed body from being a valid request for the real job (that would be served).
      if (body["prompt"] === prompt) body["prompt"] = "fuzz";
      const route = rand() < 0.5 ? "/v1/completions" : "/v1/chat/completions";
      const raw = rand() < 0.1 ? json(body).slice(0, Math.floor(rand() * 40)) : json(body);
      const res = await post(raw, {}, route);
      expect(res.status, `${route} ${raw}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${route} ${raw}`).toBeLessThan(500);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("past the queue cap a second concurrent job is refused with 503 server_busy and stays servable", async () => {
    const capped = await startProverNode(parseProverConfig(await proverConfigFor(net, "capped", { maxQueuedJobs: 1 })), { account: devAccount(1), runLoop: false, disputeResponder: false });
    try {
      const open = async () => (await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 6 })).jobId;
      const [a, b] = [await open(), await open()];
      const send = (id: bigint) => fetch(`${capped.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: json(valid({ stepproof_job_id: id.toString() })) });
      const statuses = (await Promise.all([send(a), send(b)])).map((r) => r.status).sort();
      expect(statuses).toEqual([200, 503]);
      const refused = (await getJob(client, { jobId: a })).status === JobStatus.Open ? a : b;
      expect((await getJob(client, { jobId: refused })).status).toBe(JobStatus.Open);
      expect(capped.db.job(refused)).toBeUndefined();
      expect((await send(refused)).status).toBe(200);
    } finally {
      await capped.close();
    }
  });

  it("after all that the job is still servable, exactly once", async () => {
    const ok = await post(json(valid()));
    expect(ok.status).toBe(200);
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Committed);
    const again = await post(json(valid()));
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("job_already_served");
  });
});
