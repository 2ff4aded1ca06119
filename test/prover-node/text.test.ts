import { createServer } from "node:http";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { stepproofContracts } from "../../protocol/chain/contracts.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import { outputText } from "../../protocol/prompt/output-text.js";
import type { TextTokenizer } from "../../protocol/prompt/tokenizer.js";
import { resolveTokenizer } from "../../client/model-info.js";
import { runJob } from "../../client/run-job.js";
import { ClientError } from "../../client/errors.js";
import { startGateway } from "../../client/gateway/server.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { loadPackageTokenizer } from "../../runtime/model/tokenizer-files.js";
import { devAccount } from "../helpers/chains.js";
import { stories15M } from "../helpers/stories15m.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

type Stepproof = { output_token_ids: number[] };
const PROMPT = "Once upon a time";

/**
 * Text in and text out on a real model: the prover serving stories15M (Llama-2's SentencePiece
 * vocabulary, byte fallback) to the official openai client and to the stepproof client, which
 * takes the tokenizer from the prover and checks it against the registered manifest.
 */
describe("text prompts on stories15M", async () => {
  const model = await stories15M();
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  let openai: OpenAI;
  let tokenizer: TextTokenizer;

  beforeAll(async () => {
    if (!model) return;
    net = await startTestNetwork({ modelDir: model.dir });
    node = await startProverNode(parseProverConfig(await proverConfigFor(net, "honest")), { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: "unused", maxRetries: 0 });
    tokenizer = await loadPackageTokenizer(model.dir);
  });

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  const open = async (tokens: number[], maxOut: number) =>
    (await openJob(client, { prover: devAccount(1).address, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: maxOut })).jobId;

  it.skipIf(!model)("completes text, streamed and not, with the same text; SentencePiece spaces come out right", async () => {
    const tokens = completionPromptTokens(tokenizer, PROMPT);
    expect(tokens).toEqual([1, 9038, 2501, 263, 931]); // <s> ▁Once ▁upon ▁a ▁time: Llama-2's ids
    const plain = await openai.completions.create({ model: net.manifest.modelId, prompt: PROMPT, max_tokens: 24 }, { headers: { "x-stepproof-job": (await open(tokens, 24)).toString() } });
    const ids = (plain as unknown as { stepproof: Stepproof }).stepproof.output_token_ids;
    const text = plain.choices[0]!.text;
    expect(text).toBe(outputText(tokenizer, tokens, ids));
    // Greedy stories15M: the well-known continuation, with the space before "there" kept.
    expect(text.startsWith(", there was a little girl named Lily.")).toBe(true);
    expect(tokenizer.decode([...tokens, ...ids])).toBe(PROMPT + text);

    const stream = await openai.completions.create({ model: net.manifest.modelId, prompt: PROMPT, max_tokens: 24, stream: true }, { headers: { "x-stepproof-job": (await open(tokens, 24)).toString() } });
    let streamed = "";
    let pieces = 0;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.text ?? "";
      pieces++;
    }
    expect(streamed).toBe(text);
    expect(pieces).toBeGreaterThan(10);
  });

  it.skipIf(!model)("ends the text before a stop string and stops generating there", async () => {
    const tokens = completionPromptTokens(tokenizer, PROMPT);
    const r = await openai.completions.create({ model: net.manifest.modelId, prompt: PROMPT, max_tokens: 24, stop: [" Lily", "zebra"], stream: true }, { headers: { "x-stepproof-job": (await open(tokens, 24)).toString() } });
    let text = "";
    let finish: string | null | undefined;
    let ids: number[] = [];
    for await (const chunk of r) {
      text += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      ids = (chunk as unknown as { stepproof?: Stepproof }).stepproof?.output_token_ids ?? ids;
    }
    expect(text).toBe(", there was a little girl named");
    expect(finish).toBe("stop");
    expect(ids.length).toBeLessThan(24); // generation ended at the stop string
    expect(outputText(tokenizer, tokens, ids, [" Lily", "zebra"])).toBe(text);
  });

  it.skipIf(!model)("refuses a chat with 400 chat_template_missing: stories15M has no chat template", async () => {
    const err = await openai.chat.completions.create({ model: net.manifest.modelId, messages: [{ role: "user", content: "hi" }] }, { headers: { "x-stepproof-job": "1" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe("chat_template_missing");
  });

  it.skipIf(!model)("the client takes the tokenizer from the prover, checked against the chain, and verifies the text", async () => {
    const r = await runJob(client, { modelId: net.manifest.modelId, prompt: { text: "The little dog" }, maxTokens: 16, prover: devAccount(1).address, stop: ["."] });
    expect(r.inputTokens).toBe(completionPromptTokens(tokenizer, "The little dog").length);
    expect(r.text).toBe(outputText(tokenizer, completionPromptTokens(tokenizer, "The little dog"), r.outputTokenIds, ["."]));
    expect(r.text).not.toContain(".");
    expect(r.text.length).toBeGreaterThan(3);

    // A prover serving a tokenizer.json other than the registered one is caught before any job.
    const served = await fetch(`${node.url}/v1/models/${net.manifest.modelId}/tokenizer`).then((x) => x.arrayBuffer());
    const original = Buffer.from(served).toString("utf8");
    const tampered = original.replace('"▁Once":9038', '"▁Once":9039');
    expect(tampered).not.toBe(original);
    const fake = createServer((_req, res) => res.end(tampered));
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const { port } = fake.address() as { port: number };
    await expect(resolveTokenizer({ manifest: net.manifest, endpoint: `http://127.0.0.1:${port}` })).rejects.toThrow(ClientError);
    fake.close();
  });

  it.skipIf(!model)("through the client gateway: stop strings pass through, a chat is refused with 400 before anything is paid", async () => {
    const gateway = await startGateway({ clients: await net.as(3), models: [net.manifest.modelId], port: 0, host: "127.0.0.1" });
    try {
      const viaGateway = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const r = await viaGateway.completions.create({ model: net.manifest.modelId, prompt: PROMPT, max_tokens: 24, stop: "Lily" });
      expect(r.choices[0]!.text).toBe(", there was a little girl named ");
      expect(r.choices[0]!.finish_reason).toBe("stop");
      const jobsBefore = await stepproofContracts(client).jobEscrow.read.nextJobId();
      const err = await viaGateway.chat.completions.create({ model: net.manifest.modelId, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      expect(String((err as Error).message)).toMatch(/chat template/);
      expect(await stepproofContracts(client).jobEscrow.read.nextJobId()).toBe(jobsBefore); // no job opened
    } finally {
      await gateway.close();
    }
  });
});
