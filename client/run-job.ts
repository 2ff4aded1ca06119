import OpenAI from "openai";
import type { Address, Hex } from "viem";
import type { ProverOffer } from "../protocol/chain/actions/listProverOffers.js";
import { getJob } from "../protocol/chain/actions/getJob.js";
import { openJob } from "../protocol/chain/actions/openJob.js";
import { publishPrompt } from "../protocol/chain/actions/publishPrompt.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import { tokenRoot } from "../protocol/commitments/index.js";
import type { ModelManifest } from "../runtime/model/manifest.js";
import { ClientError, CommitmentMismatchError, ContextLengthError, SpendingLimitError } from "./errors.js";
import { resolveManifest, resolveTokenizer } from "./model-info.js";
import { chatPromptTokens, completionPromptTokens, promptRoot, type ChatMessage } from "../protocol/prompt/prompt.js";
import { maxCost, probeProver, ProverUnavailableError, selectProver } from "./select-prover.js";
import { TransactionError } from "../protocol/chain/actions/send.js";
import { backoffDelay, isRetryableRefusal, retryWindowEnd, serveFailureKind, sleep } from "./retry.js";
import { outputText, validateStop } from "../protocol/prompt/output-text.js";
import type { TextTokenizer } from "../protocol/prompt/tokenizer.js";
import { resolveSamplingParams, type SamplingRequest } from "./sampling.js";
import { getChainTime } from "../protocol/chain/actions/getChainTime.js";

/** What to send: a text prompt, token ids (sent verbatim), or a chat (canonical rendering, PROTOCOL §5.6). */
export type JobPrompt = { text: string } | { tokenIds: readonly number[] } | { messages: readonly ChatMessage[] };

export type RunJobParameters = {
  modelId: Hex;
  prompt: JobPrompt;
  maxTokens: number;
  /** Default: the cheapest registered prover for the model (selectProver). */
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
  /** How long to wait for the commitment after the output (ms; default 120 s). */
  commitTimeoutMs?: number;
  /** Refuse (SpendingLimitError, nothing sent) a job that would escrow more than this. */
  maxEscrow?: bigint;
  /** Called once the model is known and the prompt fits it, before anything is paid. */
  onModel?: (model: { name: string; synthetic: boolean; context: number; promptTokens: number }) => void | Promise<void>;
  /**
   * How long to keep asking a busy prover (503, 429) before opening a job, in ms (default 120 s):
   * nothing is paid while waiting; past it the job is not opened (ProverUnavailableError).
   */
  busyWaitMs?: number;
  /** The prover's commit margin (s; default 60, the prover's default): job requests are resent until a block interval before it. */
  proverMarginSeconds?: number;
  /** The chain's block interval (s; default the chain's `blockTime`, else 12). */
  blockIntervalSeconds?: number;
  /** Called (and awaited) once the job is open and funded, before the prompt is sent. */
  onJobOpened?: (job: { jobId: bigint; prover: Address; escrowed: bigint }) => void | Promise<void>;
};

export type RunJobReturnType = {
  jobId: bigint;
  prover: Address;
  endpoint: string;
  text: string;
  outputTokenIds: number[];
  inputTokens: number;
  outputTokens: number;
  inputPrice: bigint;
  outputPrice: bigint;
  escrowed: bigint;
  /** What the job will cost at finalization: inputTokens·inputPrice + outputTokens·outputPrice. */
  cost: bigint;
  traceRoot: Hex;
  commitTx: Hex | undefined;
  /** The job's samplingParams as opened (with the seed drawn for it, if any: rerun with it to reproduce the output). */
  samplingParams: bigint;
};

type StepproofFields = { job_id: string; trace_root: Hex; output_root: Hex; output_token_ids: number[]; commit_tx: Hex | null };

/**
 * A paid job end to end: pick a prover, open and fund the job for exactly this prompt, stream
 * the output from the prover's registered endpoint with the official openai client, then check
 * the on-chain commitment against what was received (outputRoot over the received ids at
 * positions P.., output count, trace root).
 */
export async function runJob(clients: StepproofClients, p: RunJobParameters): Promise<RunJobReturnType> {
  if (!Number.isInteger(p.maxTokens) || p.maxTokens < 1) throw new ClientError(`maxTokens must be a positive integer, got ${p.maxTokens}`);
  const stop = validateStop(p.stop);
  // One seed for this job, kept across retries of it (a fresh one when the caller gave none, §4.4).
  const samplingParams = resolveSamplingParams(p.samplingParams);
  // The token count is needed to pick the cheapest prover; the tokenizer needs an endpoint or a package.
  let tokenizer: TextTokenizer | undefined;
  let manifest: ModelManifest | undefined;
  if (p.modelDir) {
    manifest = await resolveManifest(clients, { modelId: p.modelId, modelDir: p.modelDir });
    tokenizer = await resolveTokenizer({ manifest, modelDir: p.modelDir });
  }
  const tokensFor = (t: TextTokenizer) => ("text" in p.prompt ? completionPromptTokens(t, p.prompt.text) : "tokenIds" in p.prompt ? [...p.prompt.tokenIds] : chatPromptTokens(t, p.prompt.messages));
  const probe = (o: ProverOffer) => probeProver(o, p.modelId);
  const sizedProbe = (inputTokens: number) => (o: ProverOffer) => probeProver(o, p.modelId, { inputTokens, maxTokens: p.maxTokens });
  if (!tokenizer) {
    // Any prover of the model serves the same tokenizer (pinned by the registered manifest): take
    // it from the first reachable one, before judging who can take a job of this size.
    const source = await selectProver(clients, { modelId: p.modelId, inputTokens: 1, maxOutputTokens: 1, ...(p.prover ? { prover: p.prover } : {}), probe, checkCapacity: false });
    manifest = await resolveManifest(clients, { modelId: p.modelId, endpoint: source.endpoint });
    tokenizer = await resolveTokenizer({ manifest, endpoint: source.endpoint });
  }
  // A prompt the tokenizer refuses (a chat without a template) fails here, before anything is paid.
  const tokens = tokensFor(tokenizer);
  // So does one the model's context cannot hold (the manifest's context is the registered one: its hash is checked).
  const context = manifest!.architecture.context;
  if (tokens.length + p.maxTokens > context) throw new ContextLengthError(tokens.length, p.maxTokens, context);
  await p.onModel?.({ name: manifest!.name, synthetic: manifest!.source.kind === "generated", context, promptTokens: tokens.length });
  // A prover that is busy now (its queue full) says so before anything is paid: wait and ask
  // again rather than open a job it would refuse (PROTOCOL §5.6).
  const waitUntil = Date.now() + (p.busyWaitMs ?? 120_000);
  let offer: ProverOffer;
  for (let attempt = 0; ; attempt++) {
    try {
      offer = await selectProver(clients, { modelId: p.modelId, inputTokens: tokens.length, maxOutputTokens: p.maxTokens, ...(p.prover ? { prover: p.prover } : {}), probe: sizedProbe(tokens.length) });
      break;
    } catch (err) {
      if (!(err instanceof ProverUnavailableError) || err.retryAfterSeconds === undefined) throw err;
      const delay = backoffDelay(attempt, err.retryAfterSeconds);
      if (Date.now() + delay > waitUntil) throw err;
      await sleep(delay);
    }
  }
  const escrow = maxCost(offer, tokens.length, p.maxTokens);
  if (p.maxEscrow !== undefined && escrow > p.maxEscrow) {
    throw new SpendingLimitError(`the job would escrow ${escrow} (${tokens.length} prompt tokens, up to ${p.maxTokens} output tokens at prover ${offer.prover}'s prices), over the limit of ${p.maxEscrow}`, escrow, p.maxEscrow);
  }
  let job: Awaited<ReturnType<typeof openJob>>;
  try {
    job = await openJob(clients, { prover: offer.prover, modelId: p.modelId, promptRoot: promptRoot(tokens), samplingParams, inputTokens: tokens.length, maxOutputTokens: p.maxTokens });
  } catch (err) {
    // Other clients' jobs can use up the prover's stake between the check and the open: the
    // simulation then reverts (nothing paid) and the contract's error names the real reason.
    if (err instanceof TransactionError && err.revertName && STAKE_REFUSALS[err.revertName]) {
      throw new ClientError(`prover ${offer.prover} cannot take this job now: ${STAKE_REFUSALS[err.revertName]} (${err.revertName}(${(err.revertArgs ?? []).join(", ")}))`, { cause: err, details: "nothing was paid; choose another prover or retry once its open jobs settle" });
    }
    throw err;
  }
  const chainNow = await getChainTime(clients);
  // Retry only while the prover could still serve before its commit deadline: it refuses jobs
  // closer than its margin, so stop a block interval before that (the last try must not be a
  // final 409 deadline_too_close).
  const retryUntil = retryWindowEnd({
    commitDeadline: job.commitDeadline,
    chainNow,
    nowMs: Date.now(),
    proverMarginSeconds: p.proverMarginSeconds ?? 60,
    blockIntervalSeconds: p.blockIntervalSeconds ?? (clients.chain.blockTime ? clients.chain.blockTime / 1000 : 12),
  });

  await p.onJobOpened?.({ jobId: job.jobId, prover: offer.prover, escrowed: job.escrowed });
  // Retries are ours (below): the SDK's would give up on a busy prover after two.
  const openai = new OpenAI({ baseURL: `${offer.endpoint.replace(/\/$/, "")}/v1`, apiKey: "stepproof", maxRetries: 0 });
  const headers = { "x-stepproof-job": job.jobId.toString() };
  let text = "";
  let sp: StepproofFields | undefined;
  const take = (chunk: unknown, piece: string | null | undefined) => {
    if (piece) {
      text += piece;
      p.onText?.(piece);
    }
    sp ??= (chunk as { stepproof?: StepproofFields }).stepproof;
  };
  try {
    for (let attempt = 0; ; attempt++) {
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
        // Refused for now (busy, rate-limited, chain unreadable) before anything streamed: the
        // job stays open and the prover can still serve it, so ask again; never publish the
        // prompt for this (it would force on-chain work on a prover that only asked us to wait).
        // No answer (connection refused or reset, timeout) or a job the prover's RPC has not
        // seen yet: ask again too, and publish only once the retry window is used up.
        const kind = text === "" ? serveFailureKind(err) : undefined;
        if (!kind) throw err;
        const refusal = isRetryableRefusal(err);
        const delay = backoffDelay(attempt, refusal?.retryAfterSeconds);
        if (Date.now() + delay > retryUntil) {
          if (kind === "unreachable") throw err; // publish (below)
          throw new ClientError(`prover ${offer.prover} kept refusing job ${job.jobId} for now (HTTP ${refusal!.status})`, { cause: err, details: "the prompt was not published: the job stays open until its commit deadline and is then refunded in full (refundExpired), or sooner if the prover declines it" });
        }
        await sleep(delay);
      }
    }
  } catch (cause) {
    if (cause instanceof ClientError) throw cause;
    // Make the prompt undeniable: published on-chain, the prover must serve it from the chain
    // within a fresh commit timeout or pay the missed-commit penalty (PROTOCOL §5.3).
    const published = await publishPrompt(clients, { jobId: job.jobId, promptTokens: tokens }).then(
      () => "the prompt is now published on-chain: the prover must commit in time or pay the penalty; see `status`",
      (err: unknown) => `publishing the prompt on-chain failed too (${(err as Error).message.split("\n")[0]}); the escrow is refunded after the deadline`,
    );
    throw new ClientError(`prover ${offer.prover} failed to serve job ${job.jobId}`, { details: published, cause });
  }
  const served = sp as StepproofFields | undefined;
  if (!served || served.job_id !== job.jobId.toString()) throw new CommitmentMismatchError(`prover ${offer.prover} did not return the stepproof fields of job ${job.jobId}`);
  // The text must be what the ids say, decoded after the prompt and cut at a stop string (PROTOCOL §5.6).
  if (outputText(tokenizer, tokens, served.output_token_ids, stop) !== text) throw new CommitmentMismatchError("the streamed text does not decode from the returned token ids");

  const committed = await waitForCommit(clients, job.jobId, served.commit_tx ?? undefined, p.commitTimeoutMs ?? 120_000);
  // An empty output has no root (commitResult needs outputTokens ≥ 1): then nothing matches.
  const received = served.output_token_ids.length > 0 ? tokenRoot(served.output_token_ids, tokens.length) : undefined;
  const mismatch = [
    committed.outputRoot !== received && "outputRoot",
    committed.traceRoot !== served.trace_root && "trace root",
    committed.inputTokens !== tokens.length && "input token count",
    committed.outputTokens !== served.output_token_ids.length && "output token count",
  ].filter(Boolean);
  if (mismatch.length > 0) throw new CommitmentMismatchError(`job ${job.jobId}: the on-chain commitment disagrees with the output received (${mismatch.join(", ")})`);
  const cost = BigInt(committed.inputTokens) * job.inputPrice + BigInt(committed.outputTokens) * job.outputPrice;
  return {
    jobId: job.jobId,
    prover: offer.prover,
    endpoint: offer.endpoint,
    text,
    outputTokenIds: served.output_token_ids,
    inputTokens: committed.inputTokens,
    outputTokens: committed.outputTokens,
    inputPrice: job.inputPrice,
    outputPrice: job.outputPrice,
    escrowed: job.escrowed,
    cost,
    traceRoot: committed.traceRoot,
    commitTx: served.commit_tx ?? undefined,
    samplingParams,
  };
}

/** openJob reverts that mean the prover's stake cannot take the job now (PROTOCOL §9.4), in words. */
const STAKE_REFUSALS: Record<string, string> = {
  InsufficientDeterrence: "its open jobs' escrow would exceed what its free stake deters",
  InsufficientFreeStake: "its free stake cannot cover the job's collateral (unsettled jobs lock the rest)",
  StakeTooLow: "its stake is below the minimum prover stake",
  Jailed: "it is jailed after a proven fraud",
  NoAuditors: "the model's audit pool is empty, so no job can open",
};

/** The committed job: after the prover's commit transaction, else by watching blocks until it leaves Open. */
async function waitForCommit(clients: StepproofClients, jobId: bigint, commitTx: Hex | undefined, timeoutMs: number) {
  if (commitTx) await clients.publicClient.waitForTransactionReceipt({ hash: commitTx, timeout: timeoutMs });
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(clients, { jobId });
    if (job.status !== JobStatus.Open) {
      if (job.status === JobStatus.Expired) throw new ClientError(`job ${jobId} expired without a commitment`);
      return job;
    }
    if (Date.now() > until) throw new ClientError(`job ${jobId} was not committed within ${timeoutMs} ms`);
    // The prover's loop commits on its own schedule: re-read on the next block, or after a
    // second on chains that only mine on demand.
    await new Promise<void>((resolve) => {
      const done = () => (clearTimeout(timer), unwatch(), resolve());
      const timer = setTimeout(done, 1000);
      const unwatch = clients.publicClient.watchBlockNumber({ onBlockNumber: done, pollingInterval: 500 });
    });
  }
}
