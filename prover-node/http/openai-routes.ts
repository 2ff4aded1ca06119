import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import { chatPromptTokens, completionPromptTokens } from "../../protocol/prompt/prompt.js";
import { ChatTemplateMissingError, PromptEncodingError } from "../../protocol/prompt/errors.js";
import { OutputText, validateStop } from "../../protocol/prompt/output-text.js";
import type { TextTokenizer, TokenizerFiles } from "../../protocol/prompt/tokenizer.js";
import type { ModelManifest } from "../../runtime/model/manifest.js";
import { ApiError } from "../errors.js";
import type { JobService, ServedJob } from "../serve/job-service.js";
import type { ServedVoucherJob, VoucherService } from "../serve/voucher-service.js";
import { VOUCHER_HEADER } from "../../protocol/vouchers/wire.js";
import { chatRequestSchema, completionRequestSchema, JOB_HEADER, jobIdHeaderSchema } from "./schemas.js";

export type OpenAiRoutesOptions = {
  jobs: JobService;
  /** Serving on signed vouchers (PROTOCOL §5.8), when the node enables it. */
  vouchers?: VoucherService;
  manifest: ModelManifest;
  /** The package's tokenizer (its files checked against the manifest) and those files' bytes. */
  tokenizer: TextTokenizer;
  tokenizerFiles: TokenizerFiles | undefined;
  prover: string;
  prices: { input: bigint; output: bigint };
  manifestBytes: Buffer;
};

/** A prompt that cannot become ids is the request's fault: 400, with its own code for a missing chat template. */
function promptError(err: unknown): unknown {
  if (err instanceof ChatTemplateMissingError) return new ApiError(400, "chat_template_missing", `${err.shortMessage}: chat requests need a model with a chat template; use /v1/completions`, { cause: err });
  if (err instanceof PromptEncodingError) return new ApiError(400, "invalid_prompt", err.shortMessage, { cause: err });
  return err;
}

type Kind = "completion" | "chat";

/** What a served request answers with, per-job or voucher alike. */
type Served = { inputTokens: number; outputTokenIds: number[]; finishReason: "stop" | "length"; stepproof: object };

export function parseBody<T>(schema: ZodType<T, any, any>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw new ApiError(400, "invalid_request", `invalid request: ${r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}`);
  return r.data;
}

/** The job comes from the x-stepproof-job header or the stepproof_job_id body field (PROTOCOL §5.6). */
function resolveJobId(header: string | string[] | undefined, fromBody: bigint | undefined): bigint {
  let fromHeader: bigint | undefined;
  if (header !== undefined) {
    const r = jobIdHeaderSchema.safeParse(Array.isArray(header) ? header[0] : header);
    if (!r.success) throw new ApiError(400, "invalid_job_id", `${JOB_HEADER} must be a positive decimal job id`);
    fromHeader = r.data;
  }
  if (fromHeader !== undefined && fromBody !== undefined && fromHeader !== fromBody) throw new ApiError(400, "invalid_job_id", `${JOB_HEADER} and stepproof_job_id name different jobs`);
  const id = fromHeader ?? fromBody;
  if (id === undefined) throw new ApiError(400, "missing_job_id", `name the paid job with the ${JOB_HEADER} header or the stepproof_job_id body field`);
  return id;
}

/** The `stepproof` object of a voucher job (PROTOCOL §5.8): no job id, the voucher's hash instead. */
export function voucherFields(s: ServedVoucherJob) {
  return {
    job_id: null,
    voucher_hash: s.voucherHash,
    trace_root: s.traceRoot,
    output_root: s.outputRoot,
    output_token_ids: s.outputTokenIds,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokenIds.length,
    commit_tx: null,
  };
}

/** The `stepproof` object every response carries (PROTOCOL §5.6). */
export function stepproofFields(s: ServedJob) {
  return {
    job_id: s.jobId.toString(),
    trace_root: s.traceRoot,
    output_root: s.outputRoot,
    output_token_ids: s.outputTokenIds,
    input_tokens: s.inputTokens,
    output_tokens: s.outputTokenIds.length,
    commit_tx: s.commitTx ?? null,
  };
}

export function registerOpenAiRoutes(app: FastifyInstance, o: OpenAiRoutesOptions): void {
  const { manifest } = o;
  const servesModel = (model: string) => model === manifest.modelId || model.toLowerCase() === manifest.modelId || model === manifest.name;

  app.get("/v1/models", async () => ({
    object: "list",
    data: [
      {
        id: manifest.modelId,
        object: "model",
        created: 0,
        owned_by: o.prover,
        stepproof: { name: manifest.name, model_id: manifest.modelId, input_price: o.prices.input.toString(), output_price: o.prices.output.toString(), tokenizer: manifest.tokenizer },
      },
    ],
  }));

  // The exact manifest bytes: a client checks keccak256 of them against the on-chain manifestHash
  // and then trusts the tokenizer description in it.
  app.get("/v1/models/:id/manifest", async (req, reply) => {
    if (!servesModel((req.params as { id: string }).id)) throw new ApiError(404, "model_not_found", "this node does not serve that model");
    return reply.type("application/json").send(o.manifestBytes);
  });

  // The tokenizer files the manifest pins by sha256: a client that checked the manifest can take
  // them from the prover it is about to pay (a tampered file fails the hash, PROTOCOL §5.6).
  const tokenizerFile = (pick: (f: TokenizerFiles) => Uint8Array | undefined, type: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (!servesModel((req.params as { id: string }).id)) throw new ApiError(404, "model_not_found", "this node does not serve that model");
    const bytes = o.tokenizerFiles && pick(o.tokenizerFiles);
    if (!bytes) throw new ApiError(404, "not_found", "this model's tokenizer has no such file");
    return reply.type(type).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  app.get("/v1/models/:id/tokenizer", tokenizerFile((f) => f.tokenizer, "application/json"));
  app.get("/v1/models/:id/chat-template", tokenizerFile((f) => f.chatTemplate, "text/plain; charset=utf-8"));

  const handle = (kind: Kind) => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = kind === "completion" ? parseBody(completionRequestSchema, req.body) : parseBody(chatRequestSchema, req.body);
    if (!servesModel(body.model)) throw new ApiError(404, "model_not_found", `this node serves ${manifest.modelId} (${manifest.name}), not ${body.model}`);
    // A paid job (x-stepproof-job) or a signed voucher (x-stepproof-voucher, PROTOCOL §5.8).
    const voucherHeader = req.headers[VOUCHER_HEADER];
    const byVoucher = voucherHeader !== undefined && req.headers[JOB_HEADER] === undefined && body.stepproof_job_id === undefined;
    const jobId = byVoucher ? undefined : resolveJobId(req.headers[JOB_HEADER], body.stepproof_job_id);
    let promptTokens: number[];
    let stop: string[];
    try {
      promptTokens = "prompt" in body ? completionPromptTokens(o.tokenizer, body.prompt as string | number[]) : chatPromptTokens(o.tokenizer, body.messages);
      stop = validateStop(body.stop);
    } catch (err) {
      throw promptError(err);
    }
    const maxTokens = body.max_tokens ?? ("messages" in body ? (body as { max_completion_tokens?: number | null }).max_completion_tokens : undefined) ?? undefined;
    /** `cancel` undoes the admission where `run` is never reached. */
    let work: { id: string; run(onToken: (token: number) => boolean): Promise<Served>; cancel(): void };
    if (jobId === undefined) {
      if (!o.vouchers) throw new ApiError(501, "vouchers_unavailable", "this node does not serve vouchers (config vouchers.enabled)");
      const admitted = await o.vouchers.admit(Array.isArray(voucherHeader) ? voucherHeader[0]! : voucherHeader!, promptTokens, maxTokens);
      const vouchers = o.vouchers;
      work = { id: admitted.voucherHash.slice(2, 18), run: async (cb) => { const s = await vouchers.run(admitted, cb); return { ...s, stepproof: voucherFields(s) }; }, cancel: () => vouchers.cancel(admitted) };
    } else {
      const admitted = await o.jobs.admit(jobId, promptTokens, maxTokens);
      work = { id: jobId.toString(), run: async (cb) => { const s = await o.jobs.run(admitted, cb); return { ...s, stepproof: stepproofFields(s) }; }, cancel: () => o.jobs.cancel(admitted) };
    }
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${work.id}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = (s: Served) => ({ prompt_tokens: s.inputTokens, completion_tokens: s.outputTokenIds.length, total_tokens: s.inputTokens + s.outputTokenIds.length });

    // The output text (PROTOCOL §5.6): decoded after the prompt, cut at the first stop string;
    // generation ends with the token that completed a stop string.
    let text: OutputText;
    try {
      text = new OutputText(o.tokenizer, promptTokens, stop);
    } catch (err) {
      work.cancel(); // admitted, never run
      throw err;
    }
    const finishReason = (s: Served) => (text.stopped ? "stop" : s.finishReason);

    if (!body.stream) {
      let content = "";
      const s = await work.run((token) => {
        content += text.push(token);
        return text.stopped;
      });
      content += text.finish();
      const choice =
        kind === "chat"
          ? { index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: finishReason(s) }
          : { index: 0, text: content, logprobs: null, finish_reason: finishReason(s) };
      return reply.send({ id, object: kind === "chat" ? "chat.completion" : "text_completion", created, model: body.model, choices: [choice], usage: usage(s), stepproof: s.stepproof });
    }

    // Streaming: every check has passed, so from here on the answer is 200 + SSE.
    const res = reply.raw;
    try {
      reply.hijack();
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    } catch (err) {
      work.cancel(); // admitted, never run
      throw err;
    }
    const send = (data: unknown) => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const chunk = (text: string, finish: string | null, first = false) =>
      kind === "chat"
        ? { index: 0, delta: first ? { role: "assistant", content: text } : finish ? {} : { content: text }, logprobs: null, finish_reason: finish }
        : { index: 0, text, logprobs: null, finish_reason: finish };
    let first = true;
    try {
      // A client that disconnects does not stop the job: it is paid per token and committed anyway.
      const s = await work.run((token) => {
        send({ id, object, created, model: body.model, choices: [chunk(text.push(token), null, first)] });
        first = false;
        return text.stopped;
      });
      const tail = text.finish();
      if (tail) send({ id, object, created, model: body.model, choices: [chunk(tail, null)] });
      send({ id, object, created, model: body.model, choices: [chunk("", finishReason(s))], usage: usage(s), stepproof: s.stepproof });
      res.write("data: [DONE]\n\n");
    } catch (err) {
      req.log.error({ err }, "generation failed mid-stream");
      send({ error: { message: err instanceof ApiError ? err.shortMessage : "generation failed", type: "server_error", code: err instanceof ApiError ? err.code : "generation_failed" } });
    } finally {
      res.end();
    }
  };

  app.post("/v1/completions", handle("completion"));
  app.post("/v1/chat/completions", handle("chat"));
}
