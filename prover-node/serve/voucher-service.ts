import type { Address, Hex } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { readVoucherAccount } from "../../protocol/chain/actions/vouchers.js";
import { voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { tokenRoot } from "../../protocol/commitments/index.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { PromptEncodingError } from "../../protocol/prompt/errors.js";
import { decodeSamplingParams, samplingRule } from "../../protocol/sampling/rule.js";
import { decodeVoucherHeader, VoucherWireError } from "../../protocol/vouchers/wire.js";
import { voucherDigest, voucherMaxCharge, voucherSigner, type Voucher } from "../../protocol/vouchers/voucher.js";
import type { TokenCallbackResult } from "../../runtime/generate.js";
import type { ModelManifest } from "../../runtime/model/manifest.js";
import { BatcherFullError, type ContinuousBatcher } from "../../runtime/serve/batcher.js";
import { KvBudgetError } from "../../runtime/serve/kv-slots.js";
import { TraceStoreFullError, type TraceStore } from "../../runtime/trace/store.js";
import { holdRoomAndClaim } from "./trace-room.js";
import { ApiError } from "../errors.js";
import type { ProverMetrics } from "../metrics.js";
import type { VoucherJobs } from "../state/voucher-jobs.js";
import type { CorruptConfig } from "../config.js";
import { generateTraced, type GenerateTracedReturnType } from "../generation/generate-traced.js";
import { getChainTime } from "../../protocol/chain/actions/getChainTime.js";

export type VoucherServiceOptions = {
  clients: StepproofClients;
  prover: Address;
  manifest: ModelManifest;
  store: TraceStore;
  batcher: ContinuousBatcher;
  vouchers: VoucherJobs;
  metrics: ProverMetrics;
  prices: { input: bigint; output: bigint };
  /** A voucher must leave this long before its expiry, for generation and the next batch commit. */
  minLifetimeSeconds: number;
  maxQueuedJobs: number;
  /** The demo cheater (tests, the adversary suite): corrupt every n-th voucher job as JobService does. */
  corrupt?: { config: CorruptConfig; modelDir: string; executionProvider: "cpu" | "cuda" | "webgpu" };
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
};

export type AdmittedVoucher = { voucher: Voucher; voucherHash: Hex; signature: Hex; promptTokens: number[]; maxNewTokens: number };

export type ServedVoucherJob = {
  voucherHash: Hex;
  inputTokens: number;
  outputTokenIds: number[];
  traceRoot: Hex;
  outputRoot: Hex;
  finishReason: "stop" | "length";
};

/** The trace store key of a voucher job (job ids are decimal, so the two never collide). */
export const voucherTraceId = (voucherHash: Hex): string => `v-${voucherHash.toLowerCase()}`;

/**
 * Serving on vouchers (PROTOCOL §5.8): admit a signed voucher only when this node will be paid
 * for it — its own prices, a prompt matching the voucher, a nonce not served before, a deposit
 * covering every voucher of the client it holds, no withdrawal before the voucher expires, time
 * left to batch it — then generate in the shared batch with the trace going to the store.
 */
export class VoucherService {
  readonly #inFlight = new Set<string>();
  #served = 0;
  #corrupted: Promise<unknown> = Promise.resolve();

  constructor(readonly o: VoucherServiceOptions) {}

  get queued(): number {
    return this.#inFlight.size;
  }

  /** What `GET /v1/vouchers/next` answers: the next nonce this node expects and its outstanding charges. */
  async accountView(client: Address): Promise<{ nextNonce: bigint; outstanding: bigint }> {
    const onChain = await readVoucherAccount(this.o.clients, { client, prover: this.o.prover });
    return this.o.vouchers.accountView(client, onChain.nextNonce);
  }

  async admit(header: string, promptTokens: number[], maxTokens: number | undefined): Promise<AdmittedVoucher> {
    let voucher: Voucher;
    let signature: Hex;
    try {
      ({ voucher, signature } = decodeVoucherHeader(header));
    } catch (err) {
      if (err instanceof VoucherWireError) throw new ApiError(400, "invalid_voucher", err.shortMessage, { cause: err });
      throw err;
    }
    return this.admitSigned(voucher, signature, promptTokens, maxTokens);
  }

  /**
   * Admit a decoded voucher. `published`: the client published it on-chain (PROTOCOL §5.8
   * "Publication"), whose contract already checked its expiry against the deadline and that no
   * withdrawal lands before it; this node must batch it by that deadline.
   */
  async admitSigned(voucher: Voucher, signature: Hex, promptTokens: number[], maxTokens: number | undefined, opts: { published?: boolean } = {}): Promise<AdmittedVoucher> {
    const { o } = this;
    if (voucher.prover.toLowerCase() !== o.prover.toLowerCase()) throw new ApiError(403, "wrong_prover", `the voucher is for prover ${voucher.prover}, not this node (${o.prover})`);
    if (voucher.modelId.toLowerCase() !== o.manifest.modelId) throw new ApiError(400, "wrong_model", `the voucher is for model ${voucher.modelId}; this node serves ${o.manifest.modelId}`);
    const escrow = o.clients.deployment.contracts.voucherEscrow;
    if (!escrow) throw new ApiError(501, "vouchers_unavailable", "this deployment has no voucher escrow");
    const chainId = o.clients.chain.id;
    const voucherHash = voucherDigest(voucher, chainId, escrow);
    // Plain ECDSA exactly as BatchCourt.checkVoucher recovers it: a signature the court would
    // refuse (ERC-1271, high s, v not 27/28) makes the job indefensible when its leaf is challenged.
    const signer = await voucherSigner(voucherHash, signature);
    if (signer?.toLowerCase() !== voucher.client.toLowerCase()) throw new ApiError(401, "bad_voucher_signature", `the voucher is not signed by its client ${voucher.client}`);
    if (voucher.inputPrice !== o.prices.input || voucher.outputPrice !== o.prices.output) {
      throw new ApiError(409, "price_mismatch", `the voucher's prices (${voucher.inputPrice}, ${voucher.outputPrice}) are not this node's (${o.prices.input}, ${o.prices.output})`);
    }
    if (promptTokens.length !== voucher.inputTokens) throw new ApiError(400, "prompt_length_mismatch", `the prompt has ${promptTokens.length} tokens; the voucher is for exactly ${voucher.inputTokens}`);
    let root: Hex;
    try {
      root = promptRoot(promptTokens);
    } catch (err) {
      if (err instanceof PromptEncodingError) throw new ApiError(400, "invalid_prompt", err.shortMessage, { cause: err });
      throw err;
    }
    if (root !== voucher.promptRoot) throw new ApiError(400, "prompt_mismatch", "the prompt does not match the voucher's promptRoot (PROTOCOL §3.4)");
    const bad = promptTokens.findIndex((id) => id >= o.manifest.architecture.vocab);
    if (bad >= 0) throw new ApiError(400, "invalid_token_id", `prompt token ${bad} has id ${promptTokens[bad]}, outside the vocabulary`);
    const maxNewTokens = maxTokens ?? voucher.maxOutputTokens;
    if (maxNewTokens < 1 || maxNewTokens > voucher.maxOutputTokens) throw new ApiError(400, "max_tokens_exceeds_job", `max_tokens ${maxNewTokens} is outside the voucher's 1..${voucher.maxOutputTokens}`);
    if (voucher.inputTokens + voucher.maxOutputTokens > o.manifest.architecture.context) {
      throw new ApiError(400, "invalid_voucher", `the voucher's ${voucher.inputTokens} + ${voucher.maxOutputTokens} tokens exceed the model's context ${o.manifest.architecture.context}`);
    }
    // Greedy and sampled vouchers alike: a sampled job's noise is keyed by the voucher's seed alone
    // (§4.4), so a batched job needs no job id to be generated or judged. A rule the judge cannot
    // check would make the batch's leaf unprovable (BatchCourt.checkVoucher refuses it).
    const rule = samplingRule(decodeSamplingParams(voucher.samplingParams));
    if (rule.kind === "unverifiable") throw new ApiError(400, "invalid_voucher", `the voucher's sampling rule cannot be judged on-chain (PROTOCOL §4.4, §5.8): ${rule.reason}`);

    const now = await getChainTime(o.clients);
    const params = await o.clients.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "params" });
    if (!opts.published && voucher.expiry < now + BigInt(o.minLifetimeSeconds)) throw new ApiError(409, "voucher_expiring", `the voucher expires at ${voucher.expiry}, too soon to batch (chain time ${now}, needs ${o.minLifetimeSeconds} s)`);
    // A withdrawal requested after this check lands after the notice: no later than the expiry.
    if (!opts.published && voucher.expiry > now + BigInt(params.withdrawalNotice)) throw new ApiError(400, "invalid_voucher", `the voucher's expiry is more than the withdrawal notice (${params.withdrawalNotice} s) away`);
    const account = await readVoucherAccount(o.clients, { client: voucher.client, prover: o.prover });
    if (!opts.published && account.withdrawableAt !== 0n && account.withdrawableAt <= voucher.expiry) throw new ApiError(402, "deposit_withdrawing", `the client's deposit may be withdrawn at ${account.withdrawableAt}, before the voucher expires`);
    const view = o.vouchers.accountView(voucher.client, account.nextNonce);
    if (voucher.nonce < account.nextNonce || o.vouchers.job(voucherHash)) throw new ApiError(409, "voucher_nonce_used", `nonce ${voucher.nonce} was already used (next is ${view.nextNonce})`);
    const need = voucherMaxCharge(voucher);
    if (account.balance < view.outstanding + need) throw new ApiError(402, "deposit_insufficient", `the client's deposit ${account.balance} does not cover this voucher (${need}) on top of ${view.outstanding} already accepted`);
    if (this.#inFlight.size >= o.maxQueuedJobs) throw new ApiError(503, "server_busy", `${this.#inFlight.size} voucher jobs are in flight on this node; retry later`, { retryAfterSeconds: 1 });
    if (!o.batcher.capacityFor(promptTokens.length + maxNewTokens - 1).ever) throw new ApiError(503, "server_busy", "the job needs more KV cache than this node's budget", { details: "raise serving.kvCacheBytes" });
    // Room for the whole trace, held beside every other admitted job's (PROTOCOL §4.5); run() gives
    // back the rest. The claim is the first write; the unique (client, nonce) makes a replayed voucher lose there.
    const nonceUsed = new ApiError(409, "voucher_nonce_used", `nonce ${voucher.nonce} of ${voucher.client} was already served by this node`);
    holdRoomAndClaim(o.store, voucherTraceId(voucherHash), o.manifest, promptTokens.length + maxNewTokens, `voucher ${voucherHash}`, nonceUsed, () => o.vouchers.claim(voucherHash, voucher, signature));
    this.#inFlight.add(voucherHash);
    return { voucher, voucherHash, signature, promptTokens, maxNewTokens };
  }

  /** Undo an admission that will not be run (its claim, its trace-store hold, its in-flight slot): the voucher can be served again. */
  cancel(a: AdmittedVoucher): void {
    this.o.store.release(voucherTraceId(a.voucherHash));
    this.o.vouchers.release(a.voucherHash);
    this.#inFlight.delete(a.voucherHash);
  }

  async run(a: AdmittedVoucher, onToken?: (token: number) => TokenCallbackResult): Promise<ServedVoucherJob> {
    const { o } = this;
    const id = voucherTraceId(a.voucherHash);
    try {
      o.store.remove(id);
      const { architecture: arch, encoding } = o.manifest;
      const writer = o.store.begin(id, { layers: arch.layers, hidden: arch.hidden, chunkSize: encoding.chunkSize, dtype: encoding.traceDtype });
      const corrupt = o.corrupt && ++this.#served % o.corrupt.config.everyNthJob === 0 ? o.corrupt : undefined;
      let r: { outputTokens: number[]; trace?: GenerateTracedReturnType["trace"] };
      try {
        if (corrupt) {
          // The split graphs, one at a time (their corruption feeds the next block, §5.6).
          const run = this.#corrupted.then(() =>
            generateTraced({ modelDir: corrupt.modelDir, promptTokens: a.promptTokens, maxNewTokens: a.maxNewTokens, samplingParams: a.voucher.samplingParams, executionProvider: corrupt.executionProvider, traceSink: writer, onToken: (t: number) => onToken?.(t), corrupt: corrupt.config }),
          );
          this.#corrupted = run.catch(() => {});
          r = await run;
        } else {
          r = await o.batcher.submit({ promptTokens: a.promptTokens, maxNewTokens: a.maxNewTokens, samplingParams: a.voucher.samplingParams, trace: true, traceSink: writer, onToken: (t: number) => onToken?.(t) });
        }
        writer.complete(r.trace!);
      } catch (err) {
        writer.abort();
        if (err instanceof BatcherFullError || err instanceof KvBudgetError) throw new ApiError(503, "server_busy", err.shortMessage, { cause: err });
        throw err;
      }
      const served = { traceRoot: r.trace!.root, outputRoot: tokenRoot(r.outputTokens, a.promptTokens.length), outputTokenIds: r.outputTokens };
      o.vouchers.markGenerated(a.voucherHash, served);
      o.metrics.jobsServed.inc({ corrupted: String(corrupt !== undefined) });
      o.metrics.tokensGenerated.inc(r.outputTokens.length);
      o.log.info({ voucherHash: a.voucherHash, client: a.voucher.client, nonce: a.voucher.nonce.toString(), outputTokens: r.outputTokens.length }, "voucher job generated; it joins the next batch");
      const last = r.outputTokens[r.outputTokens.length - 1];
      return { voucherHash: a.voucherHash, inputTokens: a.promptTokens.length, ...served, finishReason: last === o.manifest.tokenizer.eos ? "stop" : "length" };
    } catch (err) {
      o.vouchers.release(a.voucherHash);
      if (err instanceof TraceStoreFullError) throw new ApiError(507, "trace_store_full", err.message, { cause: err });
      throw err;
    } finally {
      o.store.release(id);
      this.#inFlight.delete(a.voucherHash);
    }
  }
}
