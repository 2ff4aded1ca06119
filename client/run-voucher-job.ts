import OpenAI from "openai";
import type { Address, Hex } from "viem";
import type { ProverOffer } from "../protocol/chain/actions/listProverOffers.js";
import { challengeLeaf, depositForProver, readVoucherAccount } from "../protocol/chain/actions/vouchers.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { voucherEscrowAbi, voucherPublicationAbi } from "../protocol/chain/generated/abi.js";
import { publicationAddress, publishVoucher } from "../protocol/chain/actions/voucher-publication.js";
import { tokenRoot } from "../protocol/commitments/index.js";
import { outputText, validateStop } from "../protocol/prompt/output-text.js";
import { chatPromptTokens, completionPromptTokens, promptRoot } from "../protocol/prompt/prompt.js";
import type { TextTokenizer } from "../protocol/prompt/tokenizer.js";
import {
  batchHeaderHash, decodeLeafResponse, decodeVoucherNext, encodeVoucherHeader, leafViolations, signVoucher, verifyJobLeaf, voucherDigest, voucherMaxCharge,
  VOUCHER_HEADER, VoucherWireError, type BatchedLeaf, type Voucher, type VoucherNext,
} from "../protocol/vouchers/index.js";
import type { ModelManifest } from "../runtime/model/manifest.js";
import { ClientError, CommitmentMismatchError, ContextLengthError, SpendingLimitError } from "./errors.js";
import { resolveManifest, resolveTokenizer } from "./model-info.js";
import { backoffDelay, isRetryableRefusal, serveFailureKind, sleep } from "./retry.js";
import type { JobPrompt } from "./run-job.js";
import { resolveSamplingParams, type SamplingRequest } from "./sampling.js";
import { probeProver, ProverUnavailableError, selectProver } from "./select-prover.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

export type RunVoucherJobParameters = {
  modelId: Hex;
  prompt: JobPrompt;
  maxTokens: number;
  /** Default: the cheapest registered prover for the model (selectProver, without the JobEscrow capacity check). */
  prover?: Address;
  /** Local model package to read the tokenizer from; default: the prover's manifest, checked against the chain. */
  modelDir?: string;
  /**
   * PROTOCOL §4.4 samplingParams, or a request whose seed, if absent, is drawn at random for this
   * job when it samples (resolveSamplingParams); default greedy.
   */
  samplingParams?: bigint | SamplingRequest;
  /** Up to four strings; the output text ends before the first (PROTOCOL §5.6). */
  stop?: readonly string[];
  /** Streamed text as it arrives. */
  onText?: (text: string) => void;
  /** Refuse (SpendingLimitError, nothing signed or sent) a voucher that may charge more than this. */
  maxEscrow?: bigint;
  /** How long to keep asking a busy prover (503, 429), in ms (default 120 s): nothing is charged while waiting. */
  busyWaitMs?: number;
  /**
   * Top-up: deposit this much for the prover when the deposit, less what the prover's accepted
   * and uncommitted vouchers may charge, cannot cover this voucher's maximum. Without it such a
   * job is refused before anything is sent.
   */
  deposit?: bigint;
  /** Voucher lifetime (s; default 600); at most the escrow's withdrawalNotice. */
  voucherLifetimeSeconds?: number;
  /** Wait this long (ms) for the job to appear in a committed batch and check its leaf (default 0: do not wait). */
  waitForBatchMs?: number;
  /**
   * When the prover does not answer at all (connection refused, timeouts) until the serve window
   * is used up, publish the voucher on-chain with its prompt (PROTOCOL §5.8 "Publication"):
   * the prover must then batch it by the deadline or pay the penalty. Default true.
   */
  publishWhenUnreachable?: boolean;
  /** Called (and awaited) once the voucher is signed, before the prompt is sent. */
  onVoucher?: (v: { voucher: Voucher; voucherHash: Hex; deposited: bigint }) => void | Promise<void>;
};

export type RunVoucherJobReturnType = {
  voucherHash: Hex;
  voucher: Voucher;
  prover: Address;
  endpoint: string;
  text: string;
  outputTokenIds: number[];
  inputTokens: number;
  outputTokens: number;
  traceRoot: Hex;
  /** What the job charges once batched: inputTokens·inputPrice + outputTokens·outputPrice. */
  cost: bigint;
  /** What was deposited for the prover before signing (0n without a top-up). */
  deposited: bigint;
  /** Present when waitForBatchMs > 0: the committed batch holding the job, its leaf checked. */
  batch?: { batchId: Hex; index: number };
};

/** The `stepproof` object of a voucher job's response (PROTOCOL §5.8). */
type VoucherStepproofFields = {
  voucher_hash: Hex;
  job_id: null;
  trace_root: Hex;
  output_root: Hex;
  output_token_ids: number[];
  input_tokens: number;
  output_tokens: number;
  commit_tx: null;
};

/** The prover's final refusals of a voucher, in words (PROTOCOL §5.8 acceptance rule). */
const VOUCHER_REFUSALS: Record<string, string> = {
  invalid_voucher: "the prover could not parse the voucher",
  bad_voucher_signature: "the prover says the voucher's signature does not recover to the client",
  deposit_insufficient: "the prover says the deposit, less its accepted vouchers, cannot cover this voucher",
  voucher_nonce_used: "the prover has already accepted or charged this nonce",
  voucher_expiring: "the prover will not accept a voucher this close to (or this far from) its expiry",
  wrong_prover: "the voucher names another prover",
};

/** Depth of the leaf poll's backoff when the prover sends no Retry-After. */
const LEAF_POLL_MS = 1_000;

/**
 * A voucher job end to end (PROTOCOL §5.8): pick a prover, make sure the deposit for it covers
 * the voucher's maximum (topping it up if allowed), sign the voucher for exactly this prompt,
 * stream the output with the official openai client and the `x-stepproof-voucher` header, check
 * the text against the ids and, if asked to wait, fetch the job's leaf once batched and check it
 * against the batch header stored on-chain, the voucher and what was received — challenging the
 * leaf on-chain when it disagrees.
 */
export async function runVoucherJob(clients: StepproofClients, p: RunVoucherJobParameters): Promise<RunVoucherJobReturnType> {
  if (!Number.isInteger(p.maxTokens) || p.maxTokens < 1) throw new ClientError(`maxTokens must be a positive integer, got ${p.maxTokens}`);
  const lifetime = p.voucherLifetimeSeconds ?? 600;
  if (!Number.isInteger(lifetime) || lifetime < 1) throw new ClientError(`voucherLifetimeSeconds must be a positive integer, got ${lifetime}`);
  if (p.deposit !== undefined && p.deposit <= 0n) throw new ClientError(`the top-up deposit must be positive, got ${p.deposit}`);
  const stop = validateStop(p.stop);
  const wallet = clients.walletClient;
  if (!wallet) throw new ClientError("a voucher job needs a signing account (the client signs the voucher)");
  const client = wallet.account.address;
  const escrow = clients.deployment.contracts.voucherEscrow;
  if (!escrow || !clients.deployment.contracts.batchCourt) {
    throw new ClientError(`the deployment on chain ${clients.deployment.chainId} has no voucher escrow`, { details: "it predates the voucher path (PROTOCOL §5.8): run the job without vouchers, or redeploy" });
  }
  const params = await clients.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "params" });
  if (lifetime > params.withdrawalNotice) {
    throw new ClientError(`a voucher lifetime of ${lifetime} s is over the escrow's withdrawal notice of ${params.withdrawalNotice} s`, { details: "provers refuse such vouchers (PROTOCOL §5.8 acceptance rule): choose a shorter lifetime" });
  }

  // Tokenize as runJob does: a local package, or the manifest of any prover of the model (checked on-chain).
  let tokenizer: TextTokenizer | undefined;
  let manifest: ModelManifest | undefined;
  if (p.modelDir) {
    manifest = await resolveManifest(clients, { modelId: p.modelId, modelDir: p.modelDir });
    tokenizer = await resolveTokenizer({ manifest, modelDir: p.modelDir });
  }
  const probe = (o: ProverOffer) => probeProver(o, p.modelId);
  if (!tokenizer) {
    const source = await selectProver(clients, { modelId: p.modelId, inputTokens: 1, maxOutputTokens: 1, ...(p.prover ? { prover: p.prover } : {}), probe, checkCapacity: false });
    manifest = await resolveManifest(clients, { modelId: p.modelId, endpoint: source.endpoint });
    tokenizer = await resolveTokenizer({ manifest, endpoint: source.endpoint });
  }
  const tokens = "text" in p.prompt ? completionPromptTokens(tokenizer, p.prompt.text) : "tokenIds" in p.prompt ? [...p.prompt.tokenIds] : chatPromptTokens(tokenizer, p.prompt.messages);
  const context = manifest!.architecture.context;
  if (tokens.length + p.maxTokens > context) throw new ContextLengthError(tokens.length, p.maxTokens, context);

  // Batched jobs do not load the prover's JobEscrow stake (§5.8): no capacity check, but it must be serving.
  const waitUntil = Date.now() + (p.busyWaitMs ?? 120_000);
  let offer: ProverOffer;
  for (let attempt = 0; ; attempt++) {
    try {
      offer = await selectProver(clients, {
        modelId: p.modelId, inputTokens: tokens.length, maxOutputTokens: p.maxTokens, ...(p.prover ? { prover: p.prover } : {}),
        probe: (o) => probeProver(o, p.modelId, { inputTokens: tokens.length, maxTokens: p.maxTokens }), checkCapacity: false,
      });
      break;
    } catch (err) {
      if (!(err instanceof ProverUnavailableError) || err.retryAfterSeconds === undefined) throw err;
      const delay = backoffDelay(attempt, err.retryAfterSeconds);
      if (Date.now() + delay > waitUntil) throw err;
      await sleep(delay);
    }
  }
  const endpoint = offer.endpoint.replace(/\/$/, "");
  const terms = {
    client, prover: offer.prover, modelId: p.modelId, promptRoot: promptRoot(tokens), samplingParams: resolveSamplingParams(p.samplingParams),
    inputTokens: tokens.length, maxOutputTokens: p.maxTokens, inputPrice: offer.inputPrice, outputPrice: offer.outputPrice,
  };
  const maxCharge = voucherMaxCharge({ ...terms, nonce: 0n, expiry: 0n });
  if (p.maxEscrow !== undefined && maxCharge > p.maxEscrow) {
    throw new SpendingLimitError(`the voucher may charge ${maxCharge} (${tokens.length} prompt tokens, up to ${p.maxTokens} output tokens at prover ${offer.prover}'s prices), over the limit of ${p.maxEscrow}`, maxCharge, p.maxEscrow);
  }

  // The deposit must cover this voucher on top of what the prover's accepted, uncommitted vouchers may charge.
  let account = await readVoucherAccount(clients, { client, prover: offer.prover });
  let next = await readNext(endpoint, client);
  const available = account.balance > next.outstanding ? account.balance - next.outstanding : 0n;
  let deposited = 0n;
  if (available < maxCharge) {
    const short = `the deposit for prover ${offer.prover} is ${account.balance}, of which its accepted vouchers may still charge ${next.outstanding}: ${available} left, and this voucher may charge ${maxCharge}`;
    if (p.deposit === undefined) throw new ClientError(short, { details: "nothing was sent; deposit more first (`deposit --prover … --amount …`) or give a top-up amount" });
    if (available + p.deposit < maxCharge) throw new ClientError(`${short}; the top-up of ${p.deposit} is not enough`, { details: `nothing was sent; top up by at least ${maxCharge - available}` });
    await depositForProver(clients, { prover: offer.prover, amount: p.deposit });
    deposited = p.deposit;
    account = await readVoucherAccount(clients, { client, prover: offer.prover });
  }
  const chainNow = () => getChainTime(clients);
  const expiry = (await chainNow()) + BigInt(lifetime);
  if (account.withdrawableAt !== 0n && account.withdrawableAt <= expiry) {
    throw new ClientError(`a withdrawal of the deposit for prover ${offer.prover} is pending (withdrawable at ${account.withdrawableAt})`, { details: "provers refuse vouchers that outlive the notice (PROTOCOL §5.8); nothing was sent" });
  }
  const signWith = async (voucher: Voucher) => signVoucher(wallet, voucher, clients.deployment.chainId, escrow);
  const sign = async (nonce: bigint) => {
    const voucher: Voucher = { ...terms, nonce, expiry };
    const voucherHash = voucherDigest(voucher, clients.deployment.chainId, escrow);
    const signature = await signVoucher(wallet, voucher, clients.deployment.chainId, escrow);
    return { voucher, voucherHash, header: encodeVoucherHeader(voucher, signature) };
  };
  let signed = await sign(account.nextNonce > next.nextNonce ? account.nextNonce : next.nextNonce);
  await p.onVoucher?.({ voucher: signed.voucher, voucherHash: signed.voucherHash, deposited });

  // Stream. Nothing is charged until a batch commits, so a refused or failed request costs nothing.
  const openai = new OpenAI({ baseURL: `${endpoint}/v1`, apiKey: "stepproof", maxRetries: 0 });
  let text = "";
  let sp: VoucherStepproofFields | undefined;
  const take = (chunk: unknown, piece: string | null | undefined) => {
    if (piece) {
      text += piece;
      p.onText?.(piece);
    }
    sp ??= (chunk as { stepproof?: VoucherStepproofFields }).stepproof;
  };
  const serveUntil = Date.now() + Math.min(p.busyWaitMs ?? 120_000, (lifetime * 1000) / 2);
  let renonced = 0;
  for (let attempt = 0; ; attempt++) {
    const headers = { [VOUCHER_HEADER]: signed.header };
    try {
      if ("messages" in p.prompt) {
        const stream = await openai.chat.completions.create({ model: p.modelId, messages: p.prompt.messages as OpenAI.ChatCompletionMessageParam[], max_tokens: p.maxTokens, stream: true, ...(stop.length ? { stop } : {}) }, { headers });
        for await (const chunk of stream) take(chunk, chunk.choices[0]?.delta?.content);
      } else {
        const prompt = "text" in p.prompt ? p.prompt.text : [...p.prompt.tokenIds];
        const stream = await openai.completions.create({ model: p.modelId, prompt, max_tokens: p.maxTokens, stream: true, ...(stop.length ? { stop } : {}) }, { headers });
        for await (const chunk of stream) take(chunk, chunk.choices[0]?.text);
      }
      break;
    } catch (err) {
      if (text !== "") throw new ClientError(`prover ${offer.prover} broke off voucher job ${signed.voucherHash} mid-stream`, { cause: err, details: "the voucher stays signed: if the prover batches it, its leaf must still match what it served" });
      // Another job of this client took the nonce between our read and the request: sign the next one (nothing was served).
      if (err instanceof OpenAI.APIError && err.status === 409 && err.code === "voucher_nonce_used" && renonced < 2) {
        renonced++;
        next = await readNext(endpoint, client);
        account = await readVoucherAccount(clients, { client, prover: offer.prover });
        const nonce = [account.nextNonce, next.nextNonce, signed.voucher.nonce + 1n].reduce((a, b) => (a > b ? a : b));
        signed = await sign(nonce);
        await p.onVoucher?.({ voucher: signed.voucher, voucherHash: signed.voucherHash, deposited });
        continue;
      }
      if (err instanceof OpenAI.APIError && typeof err.code === "string" && VOUCHER_REFUSALS[err.code]) {
        throw new ClientError(`prover ${offer.prover} refused the voucher: ${VOUCHER_REFUSALS[err.code]} (HTTP ${err.status} ${err.code})`, { cause: err, details: "nothing is charged for a refused voucher" });
      }
      const kind = serveFailureKind(err);
      if (!kind) throw new ClientError(`prover ${offer.prover} failed to serve voucher job ${signed.voucherHash}`, { cause: err, details: "nothing is charged unless the prover batches the voucher; its leaf would then have to match a served job" });
      const refusal = isRetryableRefusal(err);
      const delay = backoffDelay(attempt, refusal?.retryAfterSeconds);
      if (Date.now() + delay > serveUntil) {
        // A prover that does not answer at all is made to: the voucher goes on-chain with its
        // prompt (PROTOCOL §5.8 "Publication"). One that answers "busy" only asked us to wait.
        if (kind === "unreachable" && p.publishWhenUnreachable !== false && clients.deployment.contracts.voucherPublication) {
          const details = await publishUnserved(clients, { terms, nonce: signed.voucher.nonce, tokens, sign: signWith });
          throw new ClientError(`prover ${offer.prover} did not answer voucher job ${signed.voucherHash}`, { cause: err, details });
        }
        throw new ClientError(`prover ${offer.prover} kept ${kind === "refusal" ? `refusing (HTTP ${refusal!.status})` : "not answering"} voucher job ${signed.voucherHash}`, { cause: err, details: `nothing was charged; the voucher expires at ${expiry}` });
      }
      await sleep(delay);
    }
  }

  const served = sp;
  if (!served || typeof served.voucher_hash !== "string" || served.voucher_hash.toLowerCase() !== signed.voucherHash.toLowerCase()) {
    throw new CommitmentMismatchError(`prover ${offer.prover} did not return the stepproof fields of voucher ${signed.voucherHash}`);
  }
  if (!Array.isArray(served.output_token_ids) || !served.output_token_ids.every((t) => Number.isInteger(t) && t >= 0)) throw new CommitmentMismatchError("the prover returned no output token ids");
  if (outputText(tokenizer, tokens, served.output_token_ids, stop) !== text) throw new CommitmentMismatchError("the streamed text does not decode from the returned token ids");
  const outputTokens = served.output_token_ids.length;
  if (outputTokens > p.maxTokens) throw new CommitmentMismatchError(`the prover returned ${outputTokens} output tokens, over the voucher's ${p.maxTokens}`);
  const received = outputTokens > 0 ? tokenRoot(served.output_token_ids, tokens.length) : undefined;
  if (served.output_root !== undefined && served.output_root !== null && received !== undefined && served.output_root.toLowerCase() !== received.toLowerCase()) {
    throw new CommitmentMismatchError("the prover's output_root is not the root of the token ids it returned");
  }
  const result: RunVoucherJobReturnType = {
    voucherHash: signed.voucherHash,
    voucher: signed.voucher,
    prover: offer.prover,
    endpoint,
    text,
    outputTokenIds: served.output_token_ids,
    inputTokens: tokens.length,
    outputTokens,
    traceRoot: served.trace_root,
    cost: BigInt(tokens.length) * offer.inputPrice + BigInt(outputTokens) * offer.outputPrice,
    deposited,
  };
  if (!p.waitForBatchMs || p.waitForBatchMs <= 0) return result;

  const batched = await waitForLeaf(endpoint, signed.voucherHash, p.waitForBatchMs);
  await checkLeaf(clients, escrow, batched, { voucher: signed.voucher, voucherHash: signed.voucherHash, received, outputTokens, traceRoot: served.trace_root });
  return { ...result, batch: { batchId: batched.batchId, index: batched.index } };
}

/**
 * Publish the unserved job's voucher (same terms and nonce) with its prompt. It is signed
 * afresh with an expiry past the publication's deadline (the original may expire first); the
 * nonce is the same, so at most one of the two can ever be charged (§5.8). Returns what the
 * caller's error should say.
 */
async function publishUnserved(
  clients: StepproofClients,
  p: { terms: Omit<Voucher, "nonce" | "expiry">; nonce: bigint; tokens: readonly number[]; sign: (v: Voucher) => Promise<Hex> },
): Promise<string> {
  try {
    const address = publicationAddress(clients);
    const { publishTimeout } = await clients.publicClient.readContract({ address, abi: voucherPublicationAbi, functionName: "params" });
    const now = await getChainTime(clients);
    // Room for the publication transaction's own block time past `now`.
    const voucher: Voucher = { ...p.terms, nonce: p.nonce, expiry: now + 2n * BigInt(publishTimeout) };
    const published = await publishVoucher(clients, { voucher, signature: await p.sign(voucher), promptTokens: p.tokens });
    const d = published.publication;
    return `the voucher (${published.voucherHash}) is now published on-chain with its prompt: the prover must batch it by ${d.deadline} (chain time) or pay ${d.penalty} (claimMissed, from one answer window later)`;
  } catch (err) {
    return `publishing the voucher on-chain failed too (${(err as Error).message.split("\n")[0]}); nothing was charged`;
  }
}

async function readNext(endpoint: string, client: Address): Promise<VoucherNext> {
  let res: Response;
  try {
    res = await fetch(`${endpoint}/v1/vouchers/next?client=${client}`, { signal: AbortSignal.timeout(10_000) });
  } catch (cause) {
    throw new ClientError(`cannot reach the prover at ${endpoint} for its next voucher nonce`, { cause });
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
    throw new ClientError(`the prover at ${endpoint} did not say which voucher nonce it expects (HTTP ${res.status}${code ? ` ${code}` : ""})`, { details: "it may not serve the voucher path (PROTOCOL §5.8); nothing was sent" });
  }
  try {
    return decodeVoucherNext(body);
  } catch (cause) {
    throw new ClientError(`the prover at ${endpoint} sent a malformed /v1/vouchers/next answer`, { cause, details: cause instanceof VoucherWireError ? cause.shortMessage : undefined });
  }
}

/** Poll the leaf endpoint until the job is in a committed batch (404 not_batched until then). */
async function waitForLeaf(endpoint: string, voucherHash: Hex, timeoutMs: number): Promise<BatchedLeaf> {
  const until = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    let retryAfter: number | undefined;
    try {
      const res = await fetch(`${endpoint}/v1/vouchers/${voucherHash}/leaf`, { signal: AbortSignal.timeout(10_000) });
      const body: unknown = await res.json().catch(() => undefined);
      if (res.ok) {
        try {
          return decodeLeafResponse(body);
        } catch (cause) {
          throw new CommitmentMismatchError(`the prover sent a malformed leaf for voucher ${voucherHash}`, { cause, details: cause instanceof VoucherWireError ? cause.shortMessage : undefined });
        }
      }
      const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
      if (!(res.status === 404 && code === "not_batched") && !RETRY_STATUSES.has(res.status)) {
        throw new ClientError(`the prover did not serve the leaf of voucher ${voucherHash} (HTTP ${res.status}${code ? ` ${code}` : ""})`);
      }
      retryAfter = Number(res.headers.get("retry-after")) || undefined;
    } catch (err) {
      if (err instanceof ClientError) throw err;
      // Unreachable for now: ask again within the wait.
    }
    const delay = Math.max(retryAfter !== undefined ? retryAfter * 1000 : 0, Math.min(backoffDelay(attempt), LEAF_POLL_MS * 4));
    if (Date.now() + delay > until) {
      throw new ClientError(`voucher ${voucherHash} was not in a committed batch within ${timeoutMs} ms`, { details: "the prover may still batch it before the voucher's expiry; fetch its leaf then and check it before the batch's challenge deadline" });
    }
    await sleep(delay);
  }
}

const RETRY_STATUSES = new Set([429, 503]);


/**
 * The leaf the prover batched for our voucher, checked: its header is the one stored on-chain,
 * the proof puts the leaf at its index, the voucher allows it (leafViolations, BatchCourt's own
 * rules) and it commits to what we received (output root over the ids at P.., output count,
 * prompt length, trace root). Any disagreement with an on-chain header is challenged on-chain.
 */
async function checkLeaf(
  clients: StepproofClients,
  escrow: Address,
  b: BatchedLeaf,
  got: { voucher: Voucher; voucherHash: Hex; received: Hex | undefined; outputTokens: number; traceRoot: Hex },
): Promise<void> {
  const { header, leaf, index } = b;
  const same = (x: string | undefined, y: string | undefined) => x !== undefined && y !== undefined && x.toLowerCase() === y.toLowerCase();
  // Only a header whose hash is stored can be challenged; any other is a lie we can only report.
  const stored = await clients.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "batchHash", args: [b.batchId] });
  if (!same(header.prover, got.voucher.prover) || stored !== batchHeaderHash(header)) {
    throw new CommitmentMismatchError(`the prover's batch header for voucher ${got.voucherHash} is not the one stored on-chain under batch ${b.batchId}`, {
      details: "no challenge is possible without the stored header; if the voucher was batched elsewhere, its leaf must be found from the BatchCommitted logs",
    });
  }
  const violations = [
    ...(verifyJobLeaf(header.jobsRoot, header.leafCount, leaf, index, b.proof) ? [] : ["proof"]),
    ...leafViolations(header, leaf, got.voucher, got.voucherHash),
    ...(same(leaf.outputRoot, got.received) ? [] : ["outputRoot"]),
    ...(leaf.outputTokens === got.outputTokens ? [] : [`outputTokens (billed ${leaf.outputTokens}, served ${got.outputTokens})`]),
    ...(same(leaf.traceRoot, got.traceRoot) ? [] : ["traceRoot"]),
  ];
  if (violations.length === 0) return;
  const what = [...new Set(violations)].join(", ");
  if (index < 0 || index >= header.leafCount) throw new CommitmentMismatchError(`the prover's leaf for voucher ${got.voucherHash} is at index ${index}, outside its batch of ${header.leafCount}: ${what}`);
  let challenge: string;
  try {
    const { hash } = await challengeLeaf(clients, { header, index });
    challenge = `challenged leaf ${index} of batch ${b.batchId} on-chain (tx ${hash}): the prover must answer with a voucher that allows it or the batch is voided`;
  } catch (cause) {
    throw new CommitmentMismatchError(`the batched leaf of voucher ${got.voucherHash} disagrees with the voucher or the output received (${what}); challenging it failed`, { cause });
  }
  throw new CommitmentMismatchError(`the batched leaf of voucher ${got.voucherHash} disagrees with the voucher or the output received (${what}); ${challenge}`);
}
