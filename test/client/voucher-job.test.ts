import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { bytesToHex, keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitBatch, readVoucherAccount, reserveForBatches } from "../../protocol/chain/actions/vouchers.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { batchCourtAbi, nodeRegistryAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { PublicationStatus, readPublication } from "../../protocol/chain/actions/voucher-publication.js";
import { tokenRoot } from "../../protocol/commitments/index.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { OutputText } from "../../protocol/prompt/output-text.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import type { TextTokenizer } from "../../protocol/prompt/tokenizer.js";
import {
  buildBatch, chargeOf, decodeVoucherHeader, encodeLeafResponse, encodeVoucherNext, voucherDigest, voucherMaxCharge, VOUCHER_HEADER, VoucherWireError,
  type BatchedLeaf, type Voucher,
} from "../../protocol/vouchers/index.js";
import { ClientError, CommitmentMismatchError } from "../../client/errors.js";
import { runVoucherJob } from "../../client/run-voucher-job.js";
import { batchHeaderHash } from "../../protocol/vouchers/index.js";
import { encryptKeystore, KEYSTORE_PASSWORD_ENV } from "../../protocol/node/keystore.js";
import { devAccount } from "../helpers/chains.js";
import { IN_PRICE, OUT_PRICE, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

type Accepted = { voucher: Voucher; voucherHash: Hex; signature: Hex; ids: number[]; traceRoot: Hex; inputTokens: number; polls: number; batched?: BatchedLeaf };

/**
 * A prover that speaks the voucher path's HTTP contract (PROTOCOL §5.8) and nothing more: it
 * checks the voucher's shape, prover and nonce (no signature: the chain checks that only on a
 * challenge), serves a fixed continuation, and on the leaf endpoint answers `not_batched` for
 * the first `pollsBeforeBatch` asks, then lays out a real batch and commits it as the prover.
 */
class FakeProver {
  server!: Server;
  url = "";
  readonly accepted = new Map<string, Accepted>();
  completions = 0;
  /** The next batched leaves bill this many output tokens more than were served. */
  extraOutputs = 0;
  /** Added to `outstanding` in /v1/vouchers/next (vouchers "accepted" elsewhere). */
  extraOutstanding = 0n;
  pollsBeforeBatch = 1;
  /** Reset every completion request's connection (a prover that does not answer). */
  dropCompletions = false;
  private slot = 0n;

  constructor(
    readonly net: TestNetwork,
    readonly prover: StepproofClients,
    readonly tokenizer: TextTokenizer,
  ) {}

  get address(): Address {
    return this.prover.walletClient!.account.address;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res).catch((err: unknown) => this.send(res, 500, { error: { code: "internal_error", message: String(err) } })));
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close = () => new Promise<void>((r) => this.server.close(() => r()));

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  private refuse(res: ServerResponse, status: number, code: string) {
    this.send(res, status, { error: { code, message: code, type: "invalid_request_error" } });
  }

  private async nextFor(client: Address): Promise<{ nextNonce: bigint; outstanding: bigint }> {
    const account = await readVoucherAccount(this.prover, { client, prover: this.address });
    let nextNonce = account.nextNonce;
    let outstanding = this.extraOutstanding;
    for (const a of this.accepted.values()) {
      if (a.voucher.client !== client) continue;
      if (a.voucher.nonce >= nextNonce) nextNonce = a.voucher.nonce + 1n;
      if (!a.batched) outstanding += voucherMaxCharge(a.voucher);
    }
    return { nextNonce, outstanding };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url!, this.url);
    if (req.method === "GET" && url.pathname === "/healthz") return this.send(res, 200, { prover: this.address, model: this.net.manifest.modelId });
    if (req.method === "GET" && url.pathname === "/v1/vouchers/next") {
      return this.send(res, 200, encodeVoucherNext(await this.nextFor(url.searchParams.get("client") as Address)));
    }
    const leafPath = /^\/v1\/vouchers\/(0x[0-9a-f]{64})\/leaf$/.exec(url.pathname);
    if (req.method === "GET" && leafPath) {
      const a = this.accepted.get(leafPath[1]!);
      if (!a) return this.refuse(res, 404, "voucher_not_found");
      if (!a.batched && a.polls++ < this.pollsBeforeBatch) return this.send(res, 404, { error: { code: "not_batched", message: "not yet" } }, { "retry-after": "1" });
      a.batched ??= await this.commit(a);
      return this.send(res, 200, encodeLeafResponse(a.batched));
    }
    if (req.method === "POST" && url.pathname === "/v1/completions") {
      this.completions++;
      if (this.dropCompletions) return void req.socket.destroy();
      const body = JSON.parse(await new Promise<string>((r) => {
        let s = "";
        req.on("data", (c: Buffer) => (s += c.toString("utf8")));
        req.on("end", () => r(s));
      })) as { model: string; prompt: string; max_tokens: number; stream?: boolean };
      let voucher: Voucher, signature: Hex;
      try {
        ({ voucher, signature } = decodeVoucherHeader(req.headers[VOUCHER_HEADER] as string));
      } catch (err) {
        if (err instanceof VoucherWireError) return this.refuse(res, 400, "invalid_voucher");
        throw err;
      }
      if (voucher.prover !== this.address) return this.refuse(res, 403, "wrong_prover");
      if (voucher.nonce < (await this.nextFor(voucher.client)).nextNonce) return this.refuse(res, 409, "voucher_nonce_used");
      const prompt = completionPromptTokens(this.tokenizer, body.prompt);
      if (promptRoot(prompt) !== voucher.promptRoot || prompt.length !== voucher.inputTokens || body.max_tokens !== voucher.maxOutputTokens) return this.refuse(res, 400, "invalid_voucher");
      const voucherHash = voucherDigest(voucher, this.prover.deployment.chainId, this.prover.deployment.contracts.voucherEscrow!);
      // A fixed continuation: printable bytes, one per token, exactly max_tokens of them.
      const ids = this.tokenizer.encode("abcdefghijklmnop").filter((_, i, all) => i >= all.length - 16).slice(0, body.max_tokens);
      const a: Accepted = { voucher, voucherHash, signature, ids, traceRoot: keccak256(toHex(`trace ${voucherHash}`)), inputTokens: prompt.length, polls: 0 };
      this.accepted.set(voucherHash, a);
      const stepproof = { voucher_hash: voucherHash, job_id: null, trace_root: a.traceRoot, output_root: tokenRoot(ids, prompt.length), output_token_ids: ids, input_tokens: prompt.length, output_tokens: ids.length, commit_tx: null };
      const text = new OutputText(this.tokenizer, prompt);
      const base = { id: `cmpl-${voucherHash.slice(2, 10)}`, object: "text_completion", created: 0, model: body.model };
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      const chunk = (t: string, finish: string | null, extra: object = {}) => res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, text: t, logprobs: null, finish_reason: finish }], ...extra })}\n\n`);
      for (const id of ids) chunk(text.push(id), null);
      const tail = text.finish();
      if (tail) chunk(tail, null);
      chunk("", "length", { stepproof });
      res.end("data: [DONE]\n\n");
      return;
    }
    this.refuse(res, 404, "not_found");
  }

  /** A real batch of this one job (billing `extraOutputs` more outputs than served), committed as the prover. */
  private async commit(a: Accepted): Promise<BatchedLeaf> {
    const batch = buildBatch([{ voucher: a.voucher, voucherHash: a.voucherHash, signature: a.signature, traceRoot: a.traceRoot, outputRoot: tokenRoot(a.ids, a.inputTokens), outputTokens: a.ids.length + this.extraOutputs }]);
    const { batchId, header } = await commitBatch(this.prover, { slot: this.slot++, batch });
    return { batchId, header, debits: batch.debits, index: 0, leaf: batch.leaves[0]!, proof: batch.tree.proof(0), voucher: a.voucher, signature: a.signature };
  }
}

/**
 * The client's voucher path (PROTOCOL §5.8) against a fake prover on a Hardhat JSON-RPC chain
 * with the suite deployed: deposit checks and top-ups, signing, streaming with the voucher
 * header, and the check of the batched leaf against the header stored on-chain — a leaf that
 * bills more outputs than served is challenged on-chain.
 */
describe("voucher jobs (client)", () => {
  let net: TestNetwork;
  let fake: FakeProver;
  const CLIENT = 2;
  let client: StepproofClients;
  const prompt = { text: "Hello" };
  const maxTokens = 6;

  beforeAll(async () => {
    net = await startTestNetwork();
    const prover = await net.as(1);
    fake = new FakeProver(net, prover, loadTokenizer(net.manifest.tokenizer));
    await fake.start();
    await registerProverOnChain(net, 1, fake.url);
    await reserveForBatches(prover, { amount: parseEther("100") });
    client = await net.as(CLIENT);
  });

  afterAll(async () => {
    await fake?.close();
    await net?.cleanup();
  });

  const base = () => ({ modelId: net.manifest.modelId, prompt, maxTokens, modelDir: net.modelDir, prover: fake.address });

  it("refuses a job the deposit cannot cover when no top-up is given, before anything is sent or paid", async () => {
    const txs = await client.publicClient.getTransactionCount({ address: devAccount(CLIENT).address });
    const err = await runVoucherJob(client, base()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).shortMessage).toMatch(/the deposit for prover .* is 0.*this voucher may charge \d+/);
    expect((err as ClientError).details).toMatch(/nothing was sent/);
    expect(fake.completions).toBe(0);
    expect(await client.publicClient.getTransactionCount({ address: devAccount(CLIENT).address })).toBe(txs);
    // A voucher outliving the withdrawal notice is refused too.
    await expect(runVoucherJob(client, { ...base(), deposit: 1n, voucherLifetimeSeconds: 30 * 86_400 })).rejects.toThrow(/over the escrow's withdrawal notice/);
  });

  it("tops up the deposit, streams with the voucher, waits for the batch and checks the leaf against the chain", async () => {
    const streamed: string[] = [];
    const r = await runVoucherJob(client, { ...base(), deposit: parseEther("1"), waitForBatchMs: 30_000, onText: (t) => streamed.push(t) });
    expect(r.deposited).toBe(parseEther("1"));
    expect(r.voucher.nonce).toBe(0n);
    expect(r.voucher.client).toBe(devAccount(CLIENT).address);
    expect(streamed.join("")).toBe(r.text);
    expect(r.outputTokens).toBe(maxTokens);
    expect(r.cost).toBe(BigInt(r.inputTokens) * IN_PRICE + BigInt(r.outputTokens) * OUT_PRICE);
    const a = fake.accepted.get(r.voucherHash)!;
    expect(a.polls).toBeGreaterThanOrEqual(2); // waited through a not_batched answer
    expect(r.batch).toEqual({ batchId: a.batched!.batchId, index: 0 });
    expect(chargeOf(a.batched!.leaf)).toBe(r.cost);
    const stored = await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "batchHash", args: [a.batched!.batchId] });
    expect(stored).toBe(batchHeaderHash(a.batched!.header));
    const account = await readVoucherAccount(client, { client: devAccount(CLIENT).address, prover: fake.address });
    expect(account).toMatchObject({ balance: parseEther("1") - r.cost, nextNonce: 1n });
  });

  it("counts the prover's outstanding vouchers against the deposit: tops up only then, and uses the next nonce", async () => {
    // Covered: no top-up even when one is offered; the nonce follows the chain's.
    const covered = await runVoucherJob(client, { ...base(), deposit: parseEther("5") });
    expect(covered.deposited).toBe(0n);
    expect(covered.voucher.nonce).toBe(1n);
    // The prover now reports that accepted vouchers may charge the whole balance (plus the unbatched one above).
    const { balance } = await readVoucherAccount(client, { client: devAccount(CLIENT).address, prover: fake.address });
    fake.extraOutstanding = balance;
    const before = fake.completions;
    await expect(runVoucherJob(client, base())).rejects.toThrow(/accepted vouchers may still charge/);
    expect(fake.completions).toBe(before);
    const topped = await runVoucherJob(client, { ...base(), deposit: parseEther("2") });
    fake.extraOutstanding = 0n;
    expect(topped.deposited).toBe(parseEther("2"));
    expect(topped.voucher.nonce).toBe(2n); // after the prover's accepted nonce 1
    expect((await readVoucherAccount(client, { client: devAccount(CLIENT).address, prover: fake.address })).balance).toBe(balance + parseEther("2"));
  });

  it("challenges on-chain a batched leaf that bills more outputs than were served, and throws", async () => {
    fake.extraOutputs = 3; // 6 served, 9 billed: over the voucher's maximum of 6 too, so no answer exists
    const cheater = await net.as(5);
    const err = await runVoucherJob(cheater, { ...base(), deposit: parseEther("1"), waitForBatchMs: 30_000 }).catch((e: unknown) => e);
    fake.extraOutputs = 0;
    expect(err).toBeInstanceOf(CommitmentMismatchError);
    expect((err as Error).message).toMatch(/outputTokens.*billed 9, served 6.*challenged leaf 0 of batch/);
    const a = [...fake.accepted.values()].find((x) => x.voucher.client === devAccount(5).address)!;
    const { header } = a.batched!;
    const escrow = client.deployment.contracts.voucherEscrow!;
    const instance = await client.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "instanceOf", args: [header.prover, header.debitsHash] });
    const challenge = await client.publicClient.readContract({ address: client.deployment.contracts.batchCourt!, abi: batchCourtAbi, functionName: "challengeOf", args: [instance, 0] });
    expect(challenge.challenger).toBe(devAccount(5).address);
    expect(challenge.fee).toBeGreaterThan(0n);
    // The stored header now counts the open challenge.
    const stored = await client.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "batchHash", args: [a.batched!.batchId] });
    // The header never changes after commit (PROTOCOL §5.8): the challenge is in the batch's state.
    expect(stored).toBe(batchHeaderHash(header));
  });

  it("publishes the voucher on-chain when the prover does not answer; the CLI shows it and claims the missed penalty", async () => {
    const who = await net.as(7);
    fake.dropCompletions = true;
    const err = await runVoucherJob(who, { ...base(), deposit: parseEther("1"), busyWaitMs: 1_500 }).catch((e: unknown) => e);
    fake.dropCompletions = false;
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).shortMessage).toMatch(/did not answer voucher job/);
    const details = (err as ClientError).details ?? "";
    expect(details).toMatch(/published on-chain with its prompt: the prover must batch it by \d+ \(chain time\) or pay \d+/);
    const voucherHash = /\((0x[0-9a-f]{64})\)/.exec(details)![1] as Hex;
    const pub = await readPublication(who, { voucherHash });
    expect(pub).toMatchObject({ status: PublicationStatus.Open, prover: fake.address, client: devAccount(7).address });

    const dir = path.join(net.dir, "publication-cli");
    await mkdir(dir, { recursive: true });
    const keystore = path.join(dir, "client.json");
    await writeFile(keystore, await encryptKeystore(bytesToHex(devAccount(7).getHdKey().privateKey!), "pw", 1024));
    const env = { ...process.env, [KEYSTORE_PASSWORD_ENV]: "pw", STEPPROOF_RPC_URL: net.chain.url, STEPPROOF_DEPLOYMENT: net.deploymentFile, STEPPROOF_KEYSTORE: keystore };
    const cli = async (...args: string[]) => JSON.parse((await promisify(execFile)(process.execPath, ["--no-warnings", "--import", "tsx", "client/cli.ts", ...args], { env })).stdout) as { status: string; penalty: string; tx?: string };
    expect(await cli("voucher", voucherHash, "--json")).toMatchObject({ status: "Open" });
    await net.advance(600 + 600 + 1); // the fake prover never batches it: deadline and one answer window pass
    const claimed = await cli("voucher", voucherHash, "--claim-missed", "--json");
    expect(claimed.status).toBe("Missed");
    expect(claimed.tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await who.publicClient.readContract({ address: who.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [devAccount(7).address] })).toBe(pub.penalty);
  });

  it("the CLI deposits for a prover and runs a voucher job, checking its batch", async () => {
    const dir = path.join(net.dir, "voucher-cli");
    await mkdir(dir, { recursive: true });
    const keystore = path.join(dir, "client.json");
    await writeFile(keystore, await encryptKeystore(bytesToHex(devAccount(6).getHdKey().privateKey!), "pw", 1024));
    const env = { ...process.env, [KEYSTORE_PASSWORD_ENV]: "pw", STEPPROOF_RPC_URL: net.chain.url, STEPPROOF_DEPLOYMENT: net.deploymentFile, STEPPROOF_KEYSTORE: keystore };
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, ["--no-warnings", "--import", "tsx", "client/cli.ts", ...args], { env });
    const dep = JSON.parse((await cli("deposit", "--prover", fake.address, "--amount", "1.5", "--json")).stdout) as { balance: string; nextNonce: string };
    expect(dep).toMatchObject({ balance: "1.5", nextNonce: "0" });
    const { stdout } = await cli("run", "--vouchers", "--prompt", "Hello", "--max-tokens", "4", "--model", net.manifest.modelId, "--model-dir", net.modelDir, "--prover", fake.address, "--wait-batch", "20", "--json");
    const out = JSON.parse(stdout) as { voucherHash: Hex; nonce: string; outputTokens: number; deposited: string; verified: boolean; batch: { batchId: Hex; index: number } | null };
    expect(out).toMatchObject({ nonce: "0", outputTokens: 4, deposited: "0", verified: true });
    expect(out.batch?.batchId).toBe(fake.accepted.get(out.voucherHash)!.batched!.batchId);
    await expect(cli("deposit", "--prover", fake.address, "--amount", "-1")).rejects.toMatchObject({ stderr: expect.stringMatching(/--amount must be (a token amount|positive)/) });
    await expect(cli("run", "--prompt", "x", "--max-tokens", "2", "--model", net.manifest.modelId, "--top-up", "1")).rejects.toMatchObject({ stderr: expect.stringMatching(/need --vouchers/) });
  });
});
