import { randomBytes } from "node:crypto";
import Fastify, { type FastifyReply } from "fastify";
import { isHex, type Hex } from "viem";
import { z } from "zod";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { StepproofError } from "../../protocol/errors.js";
import type { ChatMessage } from "../../protocol/prompt/prompt.js";
import { PromptEncodingError } from "../../protocol/prompt/errors.js";
import { MAX_TEMPERATURE } from "../../protocol/sampling/rule.js";
import { resolveSamplingParams } from "../sampling.js";
import { ClientError, CommitmentMismatchError, ContextLengthError, SpendingLimitError } from "../errors.js";
import { runJob, type JobPrompt, type RunJobReturnType } from "../run-job.js";
import { runVoucherJob, type RunVoucherJobReturnType } from "../run-voucher-job.js";
import { voucherMaxCharge } from "../../protocol/vouchers/index.js";
import { SpendingLedger, type SpendingLimits } from "./spending.js";

export type GatewayOptions = {
  /** The paying account's chain clients (keystore account). */
  clients: StepproofClients;
  /** Model ids (bytes32 hex) the gateway offers; requests name one of them as `model`. */
  models: readonly Hex[];
  limits?: SpendingLimits;
  /** max_tokens when a request gives none. */
  defaultMaxTokens?: number;
  commitTimeoutMs?: number;
  /**
   * Pay with signed vouchers against a deposit per prover, settled in the provers' batches
   * (PROTOCOL §5.8: per-token pricing at batch cost), instead of opening a job per request.
   * `topUp`: deposit this much for a prover whenever its deposit cannot cover a request.
   */
  vouchers?: { topUp: bigint };
  port?: number;
  host?: string;
};

export type Gateway = { url: string; ledger: SpendingLedger; close: () => Promise<void> };

const message = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.union([z.string(), z.array(z.object({ type: z.literal("text"), text: z.string() }))]),
});
const common = {
  model: z.string(),
  max_tokens: z.number().int().positive().optional(),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(MAX_TEMPERATURE).optional(),
  seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  /** OpenAI's stop: the text ends before the first one (PROTOCOL §5.6); passed to the prover. */
  stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
};
const chatBody = z.object({ ...common, messages: z.array(message).min(1), max_completion_tokens: z.number().int().positive().optional() });
const completionBody = z.object({ ...common, prompt: z.union([z.string(), z.array(z.number().int().nonnegative()).min(1)]) });

/** An OpenAI-style error body (what the official SDK parses into APIError). */
class GatewayError extends StepproofError {
  override name = "GatewayError";
  constructor(
    readonly status: number,
    readonly type: string,
    msg: string,
    options: { cause?: unknown } = {},
  ) {
    super(msg, options);
  }
}

/**
 * A local OpenAI-compatible server for apps written against OpenAI's SDK (issue #13): per
 * request it picks a prover, pays for the job from the configured account, streams the
 * prover's answer and checks the on-chain commitment (client/run-job.ts), then answers with the
 * job id, trace root and cost in `x-stepproof-*` headers and a `stepproof` field. The request
 * says nothing about chains. Spending limits refuse a request with 402 before anything is paid.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  const models = new Set(o.models.map((m) => m.toLowerCase()));
  const ledger = new SpendingLedger(o.limits ?? {});
  const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 });

  app.setErrorHandler((err, _req, reply) => {
    const e = toGatewayError(err);
    void reply.status(e.status).send({ error: { message: e.message, type: e.type, code: null, param: null } });
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: [...models].map((id) => ({ id, object: "model", created: 0, owned_by: "stepproof" })),
  }));

  app.post("/v1/chat/completions", async (req, reply) => {
    const body = parse(chatBody, req.body);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? o.defaultMaxTokens ?? 128;
    return serve(reply, { kind: "chat", model: body.model, prompt: { messages: body.messages as ChatMessage[] }, maxTokens, stream: body.stream ?? false, temperature: body.temperature, seed: body.seed, stop: body.stop });
  });

  app.post("/v1/completions", async (req, reply) => {
    const body = parse(completionBody, req.body);
    const prompt: JobPrompt = typeof body.prompt === "string" ? { text: body.prompt } : { tokenIds: body.prompt };
    return serve(reply, { kind: "text", model: body.model, prompt, maxTokens: body.max_tokens ?? o.defaultMaxTokens ?? 128, stream: body.stream ?? false, temperature: body.temperature, seed: body.seed, stop: body.stop });
  });

  type ServeRequest = { kind: "chat" | "text"; model: string; prompt: JobPrompt; maxTokens: number; stream: boolean; temperature: number | undefined; seed: number | undefined; stop?: string | string[] | undefined };

  async function serve(reply: FastifyReply, r: ServeRequest) {
    const modelId = r.model.toLowerCase();
    if (!isHex(modelId) || !models.has(modelId)) throw new GatewayError(404, "invalid_request_error", `model ${r.model} is not offered by this gateway (GET /v1/models lists ${[...models].join(", ")})`);
    // A request with temperature > 0 and no seed gets a fresh random seed: the noise is keyed by the seed alone (PROTOCOL §4.4).
    const samplingParams = r.temperature ? resolveSamplingParams({ temperature: r.temperature, ...(r.seed !== undefined ? { seed: BigInt(r.seed) } : {}) }) : 0n;
    const id = `${r.kind === "chat" ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("hex")}`;
    const created = Math.floor(Date.now() / 1000);
    let settle: ((cost: bigint) => void) | undefined;
    let jobId: bigint | undefined;
    // Checked before anything is paid; `onOpened` is set below for streams (headers go out then).
    const allowance = ledger.allowance();
    let onOpened: ((job: { jobId?: bigint; voucherHash?: Hex; prover: Hex }) => void) | undefined;
    const stop = r.stop !== undefined ? { stop: typeof r.stop === "string" ? [r.stop] : r.stop } : {};
    const run = (onText?: (t: string) => void): Promise<Served> =>
      o.vouchers
        ? runVoucherJob(o.clients, {
            modelId: modelId as Hex,
            prompt: r.prompt,
            maxTokens: r.maxTokens,
            ...stop,
            samplingParams,
            deposit: o.vouchers.topUp,
            ...(allowance !== undefined ? { maxEscrow: allowance } : {}),
            // Signed: the voucher may charge up to its maximum once batched.
            onVoucher: ({ voucher, voucherHash }) => {
              // Re-signed for a taken nonce: same terms, same maximum, reserved once.
              settle ??= ledger.reserve(voucherMaxCharge(voucher));
              onOpened?.({ voucherHash, prover: voucher.prover });
            },
            ...(onText ? { onText } : {}),
          }).then((v) => ({ ...v, jobId: undefined }))
        : runJob(o.clients, {
        modelId: modelId as Hex,
        prompt: r.prompt,
        maxTokens: r.maxTokens,
        ...stop,
        samplingParams,
        ...(o.commitTimeoutMs ? { commitTimeoutMs: o.commitTimeoutMs } : {}),
        ...(allowance !== undefined ? { maxEscrow: allowance } : {}),
        onJobOpened: (job) => {
          jobId = job.jobId;
          settle = ledger.reserve(job.escrowed);
          onOpened?.(job);
        },
        ...(onText ? { onText } : {}),
      });

    if (!r.stream) {
      const result = await run().catch((err: unknown) => {
        throw toGatewayError(err, jobId);
      });
      settle?.(result.cost);
      void reply.headers(stepproofHeaders(result));
      const usage = { prompt_tokens: result.inputTokens, completion_tokens: result.outputTokens, total_tokens: result.inputTokens + result.outputTokens };
      const choice =
        r.kind === "chat"
          ? { index: 0, message: { role: "assistant", content: result.text, refusal: null }, finish_reason: finishReason(result, r.maxTokens), logprobs: null }
          : { index: 0, text: result.text, finish_reason: finishReason(result, r.maxTokens), logprobs: null };
      return { id, object: r.kind === "chat" ? "chat.completion" : "text_completion", created, model: modelId, choices: [choice], usage, stepproof: stepproofField(result) };
    }

    // Streaming: headers (with the job id and prover) go out once the job is open and funded;
    // then one SSE chunk per piece of text; the checked commitment comes in the last chunk.
    const raw = reply.raw;
    const sse = (data: unknown) => raw.write(`data: ${JSON.stringify(data)}\n\n`);
    const chunk = (delta: string | null, finish: string | null, extra: Record<string, unknown> = {}) =>
      r.kind === "chat"
        ? { id, object: "chat.completion.chunk", created, model: modelId, choices: [{ index: 0, delta: delta === null ? {} : { role: "assistant", content: delta }, finish_reason: finish, logprobs: null }], ...extra }
        : { id, object: "text_completion", created, model: modelId, choices: [{ index: 0, text: delta ?? "", finish_reason: finish, logprobs: null }], ...extra };
    onOpened = (job) => {
      // A voucher re-signed for a taken nonce calls this again: the headers went out already.
      if (raw.headersSent) return;
      reply.hijack();
      const ref: Record<string, string> = job.jobId !== undefined ? { "x-stepproof-job-id": job.jobId.toString() } : { "x-stepproof-voucher-hash": job.voucherHash! };
      raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", ...ref, "x-stepproof-prover": job.prover });
    };
    try {
      const result = await run((text) => sse(chunk(text, null)));
      settle?.(result.cost);
      sse(chunk(null, finishReason(result, r.maxTokens), { usage: { prompt_tokens: result.inputTokens, completion_tokens: result.outputTokens, total_tokens: result.inputTokens + result.outputTokens }, stepproof: stepproofField(result) }));
      raw.write("data: [DONE]\n\n");
      raw.end();
    } catch (err) {
      const e = toGatewayError(err, jobId);
      if (!reply.sent && !raw.headersSent) throw e;
      // Mid-stream failures arrive as an error event, which the openai SDK raises as APIError.
      sse({ error: { message: e.message, type: e.type, code: null, param: null } });
      raw.end();
    }
    return reply;
  }

  const address = await app.listen({ port: o.port ?? 8080, host: o.host ?? "127.0.0.1" });
  return { url: address, ledger, close: () => app.close() };
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new GatewayError(400, "invalid_request_error", `invalid request: ${issue.path.join(".") || "body"}: ${issue.message}`);
  }
  return r.data;
}

function toGatewayError(err: unknown, jobId?: bigint): GatewayError {
  if (err instanceof GatewayError) return err;
  const job = jobId !== undefined ? ` (job ${jobId})` : "";
  if (err instanceof SpendingLimitError) return new GatewayError(402, "insufficient_quota", err.message, { cause: err });
  // Prompt plus max_tokens over the model's context: refused before anything is paid, as OpenAI does.
  if (err instanceof ContextLengthError) return new GatewayError(400, "invalid_request_error", `${err.shortMessage}; ${err.details}`, { cause: err });
  // A prompt the model's tokenizer cannot take (a chat without a chat template, bad stop strings): nothing was paid.
  if (err instanceof PromptEncodingError) return new GatewayError(400, "invalid_request_error", err.shortMessage, { cause: err });
  if (err instanceof CommitmentMismatchError) return new GatewayError(502, "stepproof_commitment_mismatch", `${err.message}${job}`, { cause: err });
  if (err instanceof ClientError || err instanceof StepproofError) return new GatewayError(502, "stepproof_error", `${err.message}${job}`, { cause: err });
  const fastify = err as { statusCode?: number; message?: string };
  if (fastify.statusCode && fastify.statusCode < 500) return new GatewayError(fastify.statusCode, "invalid_request_error", fastify.message ?? "bad request");
  return new GatewayError(500, "server_error", `gateway failure${job}: ${(err as Error).message ?? String(err)}`, { cause: err });
}

/** A per-job result, or a voucher job's (no job id: it is charged in the prover's next batch). */
type Served = RunJobReturnType | (RunVoucherJobReturnType & { jobId: undefined });

function finishReason(r: Served, maxTokens: number): "length" | "stop" {
  return r.outputTokens >= maxTokens ? "length" : "stop";
}

function stepproofField(r: Served) {
  if (r.jobId === undefined) return { job_id: null, voucher_hash: r.voucherHash, prover: r.prover, trace_root: r.traceRoot, cost: r.cost.toString(), input_tokens: r.inputTokens, output_tokens: r.outputTokens };
  return { job_id: r.jobId.toString(), prover: r.prover, trace_root: r.traceRoot, cost: r.cost.toString(), escrowed: r.escrowed.toString(), commit_tx: r.commitTx ?? null, input_tokens: r.inputTokens, output_tokens: r.outputTokens };
}

function stepproofHeaders(r: Served): Record<string, string> {
  const ref: Record<string, string> = r.jobId === undefined ? { "x-stepproof-voucher-hash": r.voucherHash } : { "x-stepproof-job-id": r.jobId.toString() };
  return { ...ref, "x-stepproof-prover": r.prover, "x-stepproof-trace-root": r.traceRoot, "x-stepproof-cost": r.cost.toString() };
}
