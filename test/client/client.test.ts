import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { jobEscrowAbi, nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, parseEther, zeroHash } from "viem";
import { Phase } from "../../protocol/dispute/agent.js";
import { readChainDispute } from "../../protocol/game/chain-dispute.js";
import { openDispute } from "../../protocol/game/send-move.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { tokenRoot } from "../../protocol/commitments/index.js";
import { jobStatus } from "../../client/job-status.js";
import { runJob } from "../../client/run-job.js";
import { ContextLengthError } from "../../client/errors.js";
import { probeProver, selectProver } from "../../client/select-prover.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { encryptKeystore, KEYSTORE_PASSWORD_ENV } from "../../protocol/node/keystore.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { IN_PRICE, OUT_PRICE, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

const run = promisify(execFile);
const CHEAP = { input: parseEther("0.0005"), output: parseEther("0.002") };

/**
 * The client, as a library and as a CLI, against two prover nodes on a Hardhat JSON-RPC chain:
 * an honest one and a cheaper one configured as the demo's cheater (every job corrupted).
 */
describe("stepproof client end to end", () => {
  let net: TestNetwork;
  let honest: ProverNode;
  let cheater: ProverNode;
  let client: StepproofClients;
  let cheatedJob: bigint;

  beforeAll(async () => {
    net = await startTestNetwork({ auditor: 4 }); // account 4 challenges below; account 3 is a prover here
    honest = await startProverNode(parseProverConfig(await proverConfigFor(net, "honest")), { account: devAccount(1), runLoop: false });
    const cheatConfig = await proverConfigFor(net, "cheater", { prices: { input: CHEAP.input.toString(), output: CHEAP.output.toString() }, corrupt: { layer: 2, position: 1, element: 3, delta: 0.5, everyNthJob: 1 } });
    cheater = await startProverNode(parseProverConfig(cheatConfig), { account: devAccount(3), runLoop: false });
    await registerProverOnChain(net, 1, honest.url);
    await registerProverOnChain(net, 3, cheater.url, CHEAP);
    client = await net.as(2);
  });

  afterAll(async () => {
    await honest?.close();
    await cheater?.close();
    await net?.cleanup();
  });

  it("skips a cheaper prover whose endpoint is dead, before opening any job", async () => {
    await registerProverOnChain(net, 5, "http://127.0.0.1:9", { input: 1n, output: 1n }); // cheapest, nothing listening
    const nonce = await client.publicClient.getTransactionCount({ address: devAccount(2).address });
    const offer = await selectProver(client, { modelId: net.manifest.modelId, inputTokens: 5, maxOutputTokens: 5, probe: (o) => probeProver(o, net.manifest.modelId, { timeoutMs: 10_000 }) });
    expect(offer.prover).toBe(devAccount(3).address);
    await expect(selectProver(client, { modelId: net.manifest.modelId, inputTokens: 5, maxOutputTokens: 5, prover: devAccount(5).address, probe: (o) => probeProver(o, net.manifest.modelId, { timeoutMs: 10_000 }) })).rejects.toThrow(/not serving/);
    expect(await client.publicClient.getTransactionCount({ address: devAccount(2).address })).toBe(nonce);
  });

  it("a prover whose stake cannot collateralise the job is refused with the reason, before anything is paid", async () => {
    const nonce = await client.publicClient.getTransactionCount({ address: devAccount(2).address });
    // Far more output than 500 staked tokens deter at the tiny model's audit rate (PROTOCOL §9.4).
    const huge = { modelId: net.manifest.modelId, inputTokens: 5, maxOutputTokens: 100_000_000 };
    await expect(selectProver(client, { ...huge, prover: devAccount(1).address })).rejects.toThrow(/cannot take this job: .*(deters|free stake)/);
    // Every prover is either refused for its stake (named, with the reason) or not serving (account 5, price 1 wei).
    const probe = (o: Parameters<typeof probeProver>[0]) => probeProver(o, net.manifest.modelId, { timeoutMs: 10_000, inputTokens: 5, maxTokens: 100_000_000 });
    await expect(selectProver(client, { ...huge, probe })).rejects.toMatchObject({ details: expect.stringMatching(new RegExp(`${devAccount(1).address}: .*(deters|free stake)`)) });
    // The prover says the same at /healthz, sized: 503 with the code.
    const res = await fetch(`${honest.url}/healthz?input_tokens=5&max_tokens=100000000`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(/^insufficient_(stake|deterrence)$/);
    expect(await client.publicClient.getTransactionCount({ address: devAccount(2).address })).toBe(nonce);
  });

  it("refuses a prompt over the model's context before anything is paid, naming the limit (issue #14 item 7)", async () => {
    const context = net.manifest.architecture.context;
    const nonce = await client.publicClient.getTransactionCount({ address: devAccount(2).address });
    const err = await runJob(client, { modelId: net.manifest.modelId, prompt: { text: "x".repeat(context) }, maxTokens: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextLengthError);
    expect((err as ContextLengthError).message).toContain(`context of ${context} tokens`);
    // Prompt fits, prompt plus max tokens does not: the details say how many output tokens fit.
    const err2 = await runJob(client, { modelId: net.manifest.modelId, prompt: { text: "hi" }, maxTokens: context }).catch((e: unknown) => e);
    expect((err2 as ContextLengthError).details).toMatch(/ask for at most \d+ output tokens/);
    expect(await client.publicClient.getTransactionCount({ address: devAccount(2).address })).toBe(nonce);
  });

  it("picks the cheapest prover, streams, and checks the commitment; a corrupted trace has another root", async () => {
    const streamed: string[] = [];
    const prompt = { text: "Tell me a story" };
    const r = await runJob(client, { modelId: net.manifest.modelId, prompt, maxTokens: 10, onText: (t) => streamed.push(t) });
    expect(r.prover).toBe(devAccount(3).address);
    expect(streamed.join("")).toBe(r.text);
    expect(r.text).toBe(loadTokenizer(net.manifest.tokenizer).decode(r.outputTokenIds));
    const job = await getJob(client, { jobId: r.jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.outputRoot).toBe(tokenRoot(r.outputTokenIds, r.inputTokens));
    expect(job.inputTokens).toBe(r.inputTokens);
    expect(r.cost).toBe(BigInt(r.inputTokens) * CHEAP.input + BigInt(r.outputTokens) * CHEAP.output);
    expect(cheater.db.job(r.jobId)?.corrupted).toBe(true);
    cheatedJob = r.jobId;

    // The same prompt at the honest prover (chosen explicitly, tokenizer from a local package).
    const h = await runJob(client, { modelId: net.manifest.modelId, prompt, maxTokens: 10, prover: devAccount(1).address, modelDir: net.modelDir });
    expect(h.prover).toBe(devAccount(1).address);
    expect(h.cost).toBe(BigInt(h.inputTokens) * IN_PRICE + BigInt(h.outputTokens) * OUT_PRICE);
    expect(honest.db.job(h.jobId)?.corrupted).toBe(false);
    expect(h.inputTokens).toBe(r.inputTokens);
    expect(h.traceRoot).not.toBe(r.traceRoot); // the cheater's trace differs: a verifier can catch it
  });

  it("chat through the library, and status shows the window and no disputes", async () => {
    const r = await runJob(client, { modelId: net.manifest.modelId, prompt: { messages: [{ role: "user", content: "hi" }] }, maxTokens: 6, prover: devAccount(1).address });
    const s = await jobStatus(client, r.jobId);
    expect(s.status).toBe("Committed");
    expect(s.windowOpen).toBe(true);
    expect(s.challengeDeadline).toBeGreaterThan(s.now);
    expect(s.openDisputes).toBe(0);
    expect(s.disputes).toEqual([]);
    expect(s.outputTokens).toBe(r.outputTokens);
  });

  it("the CLI runs a job and reports its status", async () => {
    const dir = path.join(net.dir, "cli");
    await mkdir(dir, { recursive: true });
    const keystore = path.join(dir, "client.json");
    await writeFile(keystore, await encryptKeystore(bytesToHex(devAccount(2).getHdKey().privateKey!), "pw", 1024));
    const env = { ...process.env, [KEYSTORE_PASSWORD_ENV]: "pw", STEPPROOF_RPC_URL: net.chain.url, STEPPROOF_DEPLOYMENT: net.deploymentFile, STEPPROOF_KEYSTORE: keystore };
    const cli = (...args: string[]) => run(process.execPath, ["--no-warnings", "--import", "tsx", "client/cli.ts", ...args], { env });
    const { stdout } = await cli("run", "--prompt", "Hello", "--max-tokens", "5", "--model", net.manifest.modelId, "--prover", devAccount(1).address, "--json");
    const out = JSON.parse(stdout) as { jobId: string; outputTokens: number; outputTokenIds: number[]; verified: boolean; cost: string; costPerToken: string };
    expect(out.verified).toBe(true);
    expect(out.outputTokenIds).toHaveLength(out.outputTokens);
    const job = await getJob(client, { jobId: BigInt(out.jobId) });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.outputRoot).toBe(tokenRoot(out.outputTokenIds, job.inputTokens));

    const status = JSON.parse((await cli("status", out.jobId, "--json")).stdout) as { status: string; windowOpen: boolean; openDisputes: number };
    expect(status).toMatchObject({ status: "Committed", windowOpen: true, openDisputes: 0 });
    // A bad argument is a clear error and a non-zero exit, with nothing sent.
    await expect(cli("run", "--prompt", "x", "--max-tokens", "0", "--model", net.manifest.modelId)).rejects.toMatchObject({ stderr: expect.stringMatching(/--max-tokens must be a positive integer/) });
  });

  it("a disputed prover node plays its side from its loop: step root, then the challenger's timeout", async () => {
    const challenger = await net.as(4);
    const disputeId = await openDispute(challenger, { jobId: cheatedJob, position: 1, layer: 2 });
    expect((await readChainDispute(challenger, disputeId)).phase).toBe(Phase.AwaitingStepRoot);
    expect((await getJob(client, { jobId: cheatedJob })).openDisputes).toBe(1);
    await cheater.loop.kick();
    const d = await readChainDispute(challenger, disputeId);
    expect(d.phase).toBe(Phase.AwaitingProof);
    expect(d.stepRoot).not.toBe(zeroHash);
    // The challenger never proves anything: once its clock and the window have run out, the
    // prover's loop claims the timeout (the dispute is won), then finalizes the job and is paid.
    await net.advance(3600 + 1);
    const report = await cheater.loop.kick();
    expect((await readChainDispute(challenger, disputeId)).phase).toBe(Phase.ProverWon);
    expect(report.finalized).toBe(1);
    expect((await getJob(client, { jobId: cheatedJob })).status).toBe(JobStatus.Finalized);
  });

  it("a busy prover (503 after the job is open) is asked again with backoff: no second paid job, no published prompt", async () => {
    // A proxy in front of the honest node that answers the first two job requests 503 busy.
    let posts = 0;
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method === "POST" && ++posts <= 2) {
        res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
        res.end(JSON.stringify({ error: { message: "1 jobs are already queued on this node; retry later", type: "server_error", code: "server_busy" } }));
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "content-length") as [string, string][]);
      const upstream = await fetch(`${honest.url}${req.url}`, { method: req.method!, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
      if (upstream.body) for await (const c of upstream.body) res.write(c);
      res.end();
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const provers = await net.as(1);
      await sendContractTransaction(provers, { address: provers.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "updateEndpoint", args: [proxyUrl], what: "point the offer at the proxy" });
      const opened: bigint[] = [];
      const r = await runJob(client, { modelId: net.manifest.modelId, prover: devAccount(1).address, prompt: { text: "Patience" }, maxTokens: 4, onJobOpened: (j) => void opened.push(j.jobId) });
      expect(posts).toBe(3);
      expect(opened).toEqual([r.jobId]);
      expect((await getJob(client, { jobId: r.jobId })).status).toBe(JobStatus.Committed);
      const published = await client.publicClient.getContractEvents({ address: client.deployment.contracts.jobEscrow, abi: jobEscrowAbi, eventName: "PromptPublished", args: { jobId: r.jobId }, fromBlock: 0n });
      expect(published).toEqual([]);
    } finally {
      proxy.close();
    }
  });

  it("a prover that cannot see the job yet (404 job_not_found) or drops the connection is asked again: the prompt is not published (review M1)", async () => {
    // The first job request answers as an older prover whose RPC lags the openJob block, the
    // second loses its connection (ECONNRESET); the third reaches the honest node.
    let posts = 0;
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.method === "POST" && ++posts <= 2) {
        if (posts === 2) return req.socket.destroy();
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "job does not exist on-chain", type: "invalid_request_error", code: "job_not_found" } }));
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "content-length") as [string, string][]);
      const upstream = await fetch(`${honest.url}${req.url}`, { method: req.method!, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
      if (upstream.body) for await (const c of upstream.body) res.write(c);
      res.end();
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const provers = await net.as(1);
      await sendContractTransaction(provers, { address: provers.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "updateEndpoint", args: [proxyUrl], what: "point the offer at the proxy" });
      const r = await runJob(client, { modelId: net.manifest.modelId, prover: devAccount(1).address, prompt: { text: "Lagging" }, maxTokens: 4 });
      expect(posts).toBe(3);
      expect((await getJob(client, { jobId: r.jobId })).status).toBe(JobStatus.Committed);
      const published = await client.publicClient.getContractEvents({ address: client.deployment.contracts.jobEscrow, abi: jobEscrowAbi, eventName: "PromptPublished", args: { jobId: r.jobId }, fromBlock: 0n });
      expect(published).toEqual([]);
    } finally {
      proxy.close();
    }
  });
});
