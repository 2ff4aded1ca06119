import OpenAI from "openai";
import { parseEther, type Hex } from "viem";
import { readVoucherAccount } from "../../protocol/chain/actions/vouchers.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { startGateway, type Gateway } from "../../client/gateway/server.js";
import { decodeSamplingParams } from "../../protocol/sampling/rule.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { IN_PRICE, OUT_PRICE, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

type StepproofField = { job_id: string; trace_root: string; cost: string; input_tokens: number; output_tokens: number };

/**
 * The OpenAI-compatible gateway (issue #13) driven by the official `openai` client with nothing
 * but a base URL: it pays for each request on-chain, streams the prover's answer, checks the
 * commitment and reports the job; spending limits refuse before anything is paid.
 */
describe("stepproof gateway with the unmodified openai client", () => {
  let net: TestNetwork;
  let prover: ProverNode;
  let payer: StepproofClients;
  let gateway: Gateway;
  let openai: OpenAI;

  beforeAll(async () => {
    net = await startTestNetwork();
    prover = await startProverNode(parseProverConfig(await proverConfigFor(net, "honest")), { account: devAccount(1), runLoop: false });
    await registerProverOnChain(net, 1, prover.url);
    payer = await net.as(2);
    // Per request at most what 64 prompt + 8 output tokens cost at the prover's prices.
    gateway = await startGateway({ clients: payer, models: [net.manifest.modelId], port: 0, limits: { perRequest: 64n * IN_PRICE + 8n * OUT_PRICE } });
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await prover?.close();
    await net?.cleanup();
  });

  const expectCommitted = async (sp: StepproofField, text: string) => {
    const job = await getJob(payer, { jobId: BigInt(sp.job_id) });
    expect(job.client).toBe(devAccount(2).address);
    expect(job.traceRoot).toBe(sp.trace_root);
    expect(job.outputTokens).toBe(sp.output_tokens);
    expect(BigInt(sp.cost)).toBe(BigInt(job.inputTokens) * IN_PRICE + BigInt(job.outputTokens) * OUT_PRICE);
    expect(text.length).toBeGreaterThan(0);
  };

  it("lists the models it offers", async () => {
    const list = await openai.models.list();
    expect(list.data.map((m) => m.id)).toEqual([net.manifest.modelId.toLowerCase()]);
  });

  it("answers a chat completion, paid and checked on-chain, with the job in headers and the body", async () => {
    const { data, response } = await openai.chat.completions.create({ model: net.manifest.modelId, messages: [{ role: "user", content: "Hi" }], max_tokens: 6 }).withResponse();
    const sp = (data as unknown as { stepproof: StepproofField }).stepproof;
    expect(response.headers.get("x-stepproof-job-id")).toBe(sp.job_id);
    expect(response.headers.get("x-stepproof-trace-root")).toBe(sp.trace_root);
    expect(response.headers.get("x-stepproof-cost")).toBe(sp.cost);
    expect(data.usage?.completion_tokens).toBe(sp.output_tokens);
    await expectCommitted(sp, data.choices[0]!.message.content ?? "");
  });

  it("streams a completion and ends with the checked commitment", async () => {
    const stream = await openai.completions.create({ model: net.manifest.modelId, prompt: "Once", max_tokens: 5, stream: true });
    let text = "";
    let sp: StepproofField | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      sp ??= (chunk as unknown as { stepproof?: StepproofField }).stepproof;
    }
    expect(sp).toBeDefined();
    await expectCommitted(sp!, text);
  });

  it("signs a fresh random seed per sampled request without one, and a given seed as is (PROTOCOL §4.4)", async () => {
    const ask = async (extra: { seed?: number }) => {
      const data = await openai.completions.create({ model: net.manifest.modelId, prompt: "Once", max_tokens: 3, temperature: 0.8, ...extra });
      const job = await getJob(payer, { jobId: BigInt((data as unknown as { stepproof: StepproofField }).stepproof.job_id) });
      return decodeSamplingParams(job.samplingParams);
    };
    const [a, b, seeded] = [await ask({}), await ask({}), await ask({ seed: 12345 })];
    for (const r of [a, b, seeded]) expect(r).toMatchObject({ temperature: expect.closeTo(0.8, 6), topK: 0 });
    expect(a.seed).not.toBe(b.seed);
    expect(seeded.seed).toBe(12345n);
  });

  it("refuses, with OpenAI-style errors and without paying: unknown model, bad body, over the limit", async () => {
    const nonce = await payer.publicClient.getTransactionCount({ address: devAccount(2).address });
    await expect(openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({ status: 404 });
    await expect(openai.chat.completions.create({ model: net.manifest.modelId, messages: [] })).rejects.toMatchObject({ status: 400 });
    const over = await openai.chat.completions.create({ model: net.manifest.modelId, messages: [{ role: "user", content: "x" }], max_tokens: 200 }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(OpenAI.APIError);
    expect((over as InstanceType<typeof OpenAI.APIError>).status).toBe(402);
    expect((over as Error).message).toMatch(/over the limit/);
    expect(await payer.publicClient.getTransactionCount({ address: devAccount(2).address })).toBe(nonce);
  });
});

/**
 * The same gateway paying with vouchers (PROTOCOL §5.8): per request a signed voucher against a
 * deposit for the prover (topped up when short), settled in the prover's next batch.
 */
describe("stepproof gateway on vouchers", () => {
  let net: TestNetwork;
  let prover: ProverNode;
  let payer: StepproofClients;
  let gateway: Gateway;
  let openai: OpenAI;

  beforeAll(async () => {
    net = await startTestNetwork();
    prover = await startProverNode(parseProverConfig(await proverConfigFor(net, "vouchers", { vouchers: { enabled: true, batchIntervalSeconds: 60, maxBatchJobs: 2, minLifetimeSeconds: 60 } })), { account: devAccount(1), runLoop: false });
    await registerProverOnChain(net, 1, prover.url);
    payer = await net.as(2);
    gateway = await startGateway({ clients: payer, models: [net.manifest.modelId], port: 0, vouchers: { topUp: parseEther("1") }, limits: { perRequest: 64n * IN_PRICE + 8n * OUT_PRICE } });
    openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await prover?.close();
    await net?.cleanup();
  });

  it("answers with a voucher job, charged exactly its tokens in the prover's batch; streams too", { timeout: 60_000 }, async () => {
    const { data, response } = await openai.completions.create({ model: net.manifest.modelId, prompt: "Hello", max_tokens: 5 }).withResponse();
    const sp = (data as unknown as { stepproof: { job_id: null; voucher_hash: Hex; cost: string; input_tokens: number; output_tokens: number } }).stepproof;
    expect(sp.job_id).toBeNull();
    expect(response.headers.get("x-stepproof-voucher-hash")).toBe(sp.voucher_hash);
    expect(BigInt(sp.cost)).toBe(BigInt(sp.input_tokens) * IN_PRICE + BigInt(sp.output_tokens) * OUT_PRICE);
    expect(data.choices[0]!.text.length).toBeGreaterThan(0);
    const stream = await openai.completions.create({ model: net.manifest.modelId, prompt: "Once", max_tokens: 4, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text.length).toBeGreaterThan(0);
    // The prover batches both; the deposit (topped up once) is charged exactly their costs.
    const before = await readVoucherAccount(payer, { client: devAccount(2).address, prover: devAccount(1).address });
    expect(before.balance).toBe(parseEther("1"));
    await prover.loop.kick();
    const after = await readVoucherAccount(payer, { client: devAccount(2).address, prover: devAccount(1).address });
    expect(after.nextNonce).toBe(2n);
    expect(before.balance - after.balance).toBeGreaterThanOrEqual(BigInt(sp.cost));
    expect(gateway.ledger.spent()).toBe(before.balance - after.balance);
  });
});

