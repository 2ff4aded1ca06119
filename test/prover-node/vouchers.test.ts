import { parseEther, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runVoucherJob } from "../../client/run-voucher-job.js";
import { adoptBatchedJob, challengeLeaf, readBatchState, readVoucherAccount } from "../../protocol/chain/actions/vouchers.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { batchCourtAbi, testTokenAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { signedGet } from "../../protocol/auth/signed-fetch.js";
import { decodeLeafResponse, encodeVoucherHeader, signVoucher, voucherDigest, VOUCHER_HEADER, VOUCHER_TYPES, type Voucher } from "../../protocol/vouchers/index.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { decodeSamplingParams, encodeSamplingParams } from "../../protocol/sampling/rule.js";
import { generate } from "../../runtime/generate.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { devAccount } from "../helpers/chains.js";
import { IN_PRICE, OUT_PRICE, kickUntil, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "./fixture.js";

/**
 * A prover node serving on signed vouchers (PROTOCOL §5.8) to the client library on a Hardhat
 * JSON-RPC chain: the client deposits and signs, the node serves and batches, the client checks
 * its leaf against the committed header, a verifier challenges a leaf (the node answers with the
 * client's voucher) and moves a job into the JobEscrow (the node serves its trace there), and the
 * node claims the batch and withdraws its pay. Sampled (Gumbel-max) vouchers are served too: their
 * noise is keyed by the voucher's seed alone (PROTOCOL §4.4), not by a job id the batched job lacks.
 */
describe("prover node on vouchers", () => {
  let net: TestNetwork;
  let node: ProverNode;
  let client: StepproofClients;
  let verifier: StepproofClients;
  const PROVER = devAccount(1).address;

  beforeAll(async () => {
    net = await startTestNetwork();
    const config = parseProverConfig(await proverConfigFor(net, "vouchers", { vouchers: { enabled: true, batchIntervalSeconds: 1, maxBatchJobs: 2, minLifetimeSeconds: 60 } }));
    node = await startProverNode(config, { account: devAccount(1), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, node.url);
    client = await net.as(2);
    verifier = await net.as(3);
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    await net?.cleanup();
  });

  it("serves, batches, answers a challenge, hands a job to the JobEscrow, claims and withdraws", { timeout: 180_000 }, async () => {
    const jobs = [];
    for (const prompt of [[256, 72, 105], [256, 87, 111, 114]]) {
      jobs.push(
        await kickUntil(node, runVoucherJob(client, { modelId: net.manifest.modelId as Hex, prompt: { tokenIds: prompt }, maxTokens: 5, prover: PROVER, modelDir: net.modelDir, deposit: parseEther("1"), voucherLifetimeSeconds: 600, waitForBatchMs: 60_000 })),
      );
    }
    for (const j of jobs) expect(j.batch).toBeDefined();
    const account = await readVoucherAccount(client, { client: client.walletClient!.account.address, prover: PROVER });
    expect(account.nextNonce).toBe(2n);
    const charged = jobs.reduce((s, j) => s + j.cost, 0n);
    expect(account.balance).toBe(parseEther("1") - charged);

    // The leaf (with the client's voucher) is public: a verifier challenges one, the node answers.
    const leafOf = async (h: Hex) => decodeLeafResponse(await (await fetch(`${node.url}/v1/vouchers/${h}/leaf`)).json());
    const first = await leafOf(jobs[0]!.voucherHash);
    await challengeLeaf(verifier, { header: first.header, index: first.index });
    expect((await readBatchState(verifier, { batchId: first.batchId })).openChallenges).toBe(1);
    await node.loop.kick();
    expect((await readBatchState(verifier, { batchId: first.batchId })).openChallenges).toBe(0);
    expect(await verifier.publicClient.readContract({ address: verifier.deployment.contracts.batchCourt!, abi: batchCourtAbi, functionName: "credits", args: [PROVER] })).toBeGreaterThan(0n);

    // A verifier moves the other job into the JobEscrow with the served voucher; the node then
    // serves that job's trace under its new id (a signed read), as for any committed job.
    const second = await leafOf(jobs[1]!.voucherHash);
    const { jobId } = await adoptBatchedJob(verifier, { header: second.header, debits: second.debits, leaf: second.leaf, index: second.index, proof: second.proof, voucher: second.voucher, signature: second.signature });
    expect((await getJob(verifier, { jobId })).status).toBe(JobStatus.Committed);
    await node.loop.kick();
    const res = await signedGet({ account: devAccount(3), chainId: 31337, prover: PROVER, url: `${node.url}/v1/jobs/${jobId}/trace?layer=0&positions=0` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { trace_root: Hex };
    expect(body.trace_root).toBe(second.leaf.traceRoot);

    // After the window (and the answer's hold) the node claims and withdraws its pay.
    const before = await client.publicClient.readContract({ address: client.deployment.contracts.token, abi: testTokenAbi, functionName: "balanceOf", args: [PROVER] });
    await net.advance(3600 + 700);
    await node.loop.kick();
    expect(await client.publicClient.readContract({ address: client.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "batchHash", args: [first.batchId] })).toBe(`0x${"00".repeat(31)}01`);
    const after = await client.publicClient.readContract({ address: client.deployment.contracts.token, abi: testTokenAbi, functionName: "balanceOf", args: [PROVER] });
    // Paid to the wallet: each batch's charges less the moved job's, and the moved job itself once
    // it finalized in the JobEscrow (its window ran out too), each less the 2.5 % fee and 5 % audit fee.
    const net_ = (x: bigint) => x - (x * 250n) / 10_000n - (x * 500n) / 10_000n;
    const moved = second.leaf.inputPrice * BigInt(second.leaf.inputTokens) + second.leaf.outputPrice * BigInt(second.leaf.outputTokens);
    const batches = new Map([first, second].map((b) => [b.batchId, b.header.total]));
    let expected = net_(moved);
    for (const [id, total] of batches) expected += net_(id === second.batchId ? total - moved : total);
    expect((await getJob(verifier, { jobId })).status).toBe(JobStatus.Finalized);
    expect(after - before).toBe(expected);
  });

  it("refuses a replayed voucher, a forged signature and another prover's voucher, by name", { timeout: 60_000 }, async () => {
    const now = (await client.publicClient.getBlock()).timestamp;
    const prompt = [256, 65];
    const escrow = client.deployment.contracts.voucherEscrow!;
    const voucher: Voucher = {
      client: client.walletClient!.account.address, prover: PROVER, modelId: net.manifest.modelId as Hex, promptRoot: promptRoot(prompt), samplingParams: 0n,
      inputTokens: prompt.length, maxOutputTokens: 3, inputPrice: IN_PRICE, outputPrice: OUT_PRICE, nonce: 0n, expiry: now + 600n,
    };
    const post = (v: Voucher, sig: Hex) =>
      fetch(`${node.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", [VOUCHER_HEADER]: encodeVoucherHeader(v, sig) }, body: JSON.stringify({ model: net.manifest.modelId, prompt, max_tokens: 3 }) });
    const code = async (r: Response) => ({ status: r.status, code: ((await r.json()) as { error: { code: string } }).error.code });
    // Nonce 0 was charged in the first test's batch.
    expect(await code(await post(voucher, await signVoucher(devAccount(2), voucher, 31337, escrow)))).toEqual({ status: 409, code: "voucher_nonce_used" });
    const fresh = { ...voucher, nonce: 7n };
    expect(await code(await post(fresh, await signVoucher(devAccount(5), fresh, 31337, escrow)))).toEqual({ status: 401, code: "bad_voucher_signature" });
    // The client's own signature, malleated to high s: ecrecover (and viem's verifyTypedData)
    // still recover the client, but BatchCourt's ECDSA.tryRecover refuses it, so a node that took
    // it could not answer a challenge of the leaf and its batch would be voided (the client's
    // debit refunded, the node slashed). Refused before anything is served.
    const good = await signVoucher(devAccount(2), fresh, 31337, escrow);
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const v = Number.parseInt(good.slice(130, 132), 16);
    const malleated = `0x${good.slice(2, 66)}${(N - BigInt(`0x${good.slice(66, 130)}`)).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
    expect(await client.publicClient.verifyTypedData({ address: fresh.client, domain: { name: "stepproof VoucherEscrow", version: "1", chainId: 31337, verifyingContract: escrow }, types: VOUCHER_TYPES, primaryType: "Voucher", message: fresh, signature: malleated })).toBe(true);
    expect(await code(await post(fresh, malleated))).toEqual({ status: 401, code: "bad_voucher_signature" });
    const elsewhere = { ...fresh, prover: devAccount(6).address };
    expect(await code(await post(elsewhere, await signVoucher(devAccount(2), elsewhere, 31337, escrow)))).toEqual({ status: 403, code: "wrong_prover" });
    // Refused before anything was recorded: the node holds no job for the voucher.
    expect(await code(await fetch(`${node.url}/v1/vouchers/${voucherDigest(fresh, 31337, escrow)}/leaf`))).toEqual({ status: 404, code: "voucher_not_found" });
  });

  it("serves sampled vouchers by the rule keyed by their seed, batched and defended; refuses a rule the judge cannot check", { timeout: 180_000 }, async () => {
    const prompt = [256, 83, 97, 109];
    const run = (samplingParams: bigint | { temperature: number; seed?: bigint }) =>
      kickUntil(node, runVoucherJob(client, { modelId: net.manifest.modelId as Hex, prompt: { tokenIds: prompt }, maxTokens: 8, prover: PROVER, modelDir: net.modelDir, samplingParams, deposit: parseEther("1"), voucherLifetimeSeconds: 600, waitForBatchMs: 60_000 }));
    // No seed given: the client draws a fresh 64-bit one per job; a given seed is signed as is.
    const drawn = await run({ temperature: 0.8 });
    const seeded = await run(encodeSamplingParams({ temperature: 0.8, seed: 2026n }));
    const drawnRule = decodeSamplingParams(drawn.voucher.samplingParams);
    expect(drawnRule).toMatchObject({ temperature: expect.closeTo(0.8, 6), topK: 0 });
    expect(drawnRule.seed).not.toBe(0n);
    expect(decodeSamplingParams(seeded.voucher.samplingParams).seed).toBe(2026n);
    for (const j of [drawn, seeded]) {
      expect(j.batch).toBeDefined();
      // The output is the rule's: the tokens of a local generation with the voucher's
      // samplingParams (no job id anywhere).
      const local = await generate({ modelDir: net.modelDir, promptTokens: prompt, maxNewTokens: 8, samplingParams: j.voucher.samplingParams, trace: false });
      expect(j.outputTokenIds).toEqual(local.outputTokens);
    }
    // Two seeds, two samples of the same prompt; greedy is yet another continuation.
    const greedy = await generate({ modelDir: net.modelDir, promptTokens: prompt, maxNewTokens: 8, samplingParams: 0n, trace: false });
    expect(drawn.outputTokenIds).not.toEqual(seeded.outputTokenIds);
    expect(seeded.outputTokenIds).not.toEqual(greedy.outputTokens);

    // BatchCourt judges the sampled leaf's voucher valid: a challenge of it is answered.
    const leaf = decodeLeafResponse(await (await fetch(`${node.url}/v1/vouchers/${seeded.voucherHash}/leaf`)).json());
    expect(leaf.leaf.samplingParams).toBe(seeded.voucher.samplingParams);
    expect(leaf.leaf.traceRoot).toBe(seeded.traceRoot);
    await challengeLeaf(verifier, { header: leaf.header, index: leaf.index });
    expect((await readBatchState(verifier, { batchId: leaf.batchId })).openChallenges).toBe(1);
    await node.loop.kick();
    expect((await readBatchState(verifier, { batchId: leaf.batchId })).openChallenges).toBe(0);

    // A rule no one-step proof can check is still refused before anything is served.
    const now = (await client.publicClient.getBlock()).timestamp;
    const escrow = client.deployment.contracts.voucherEscrow!;
    const base: Voucher = {
      client: client.walletClient!.account.address, prover: PROVER, modelId: net.manifest.modelId as Hex, promptRoot: promptRoot(prompt), samplingParams: 0n,
      inputTokens: prompt.length, maxOutputTokens: 3, inputPrice: IN_PRICE, outputPrice: OUT_PRICE, nonce: 100n, expiry: now + 600n,
    };
    for (const [samplingParams, reason] of [[encodeSamplingParams({ temperature: 0.8, topK: 20, seed: 1n }), /top-k 20/], [encodeSamplingParams({ temperature: 70_000, seed: 1n }), /above 2\^16/]] as const) {
      const v = { ...base, samplingParams };
      const r = await fetch(`${node.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", [VOUCHER_HEADER]: encodeVoucherHeader(v, await signVoucher(devAccount(2), v, 31337, escrow)) }, body: JSON.stringify({ model: net.manifest.modelId, prompt, max_tokens: 3 }) });
      const { error } = (await r.json()) as { error: { code: string; message: string } };
      expect({ status: r.status, code: error.code }).toEqual({ status: 400, code: "invalid_voucher" });
      expect(error.message).toMatch(reason);
    }
  });
});
