import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import { chatPromptTokens, completionPromptTokens } from "../../protocol/prompt/prompt.js";
import { StreamingDecoder } from "../../protocol/prompt/tokenizer.js";
import { PromptEncodingError } from "../../protocol/prompt/errors.js";
import type { ModelManifest } from "../../runtime/model/manifest.js";
import { ApiError } from "../errors.js";
import type { JobService, ServedJob } from "../serve/job-service.js";
import { chatRequestSchema, completionRequestSchema, JOB_HEADER, jobIdHeaderSchema } from "./schemas.js";

export type OpenAiRoutesOptions = { jobs: JobService; manifest: ModelManifest; prover: string; prices: { input: bigint; output: bigint }; manifestBytes: Buffer };

type Kind = "completion" | "chat";

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

  const handle = (kind: Kind) => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = kind === "completion" ? parseBody(completionRequestSchema, req.body) : parseBody(chatRequestSchema, req.body);
    if (!servesModel(body.model)) throw new ApiError(404, "model_not_found", `this node serves ${manifest.modelId} (${manifest.name}), not ${body.model}`);
    const jobId = resolveJobId(req.headers[JOB_HEADER], body.stepproof_job_id);
    let promptTokens: number[];
    try {
      promptTokens = "prompt" in body ? completionPromptTokens(manifest.tokenizer, body.prompt as string | number[]) : chatPromptTokens(manifest.tokenizer, body.messages);
    } catch (err) {
      if (err instanceof PromptEncodingError) throw new ApiError(400, "invalid_prompt", err.shortMessage, { cause: err });
      throw err;
    }
    const maxTokens = body.max_tokens ?? ("messages" in body ? (body as { max_completion_tokens?: number | null }).max_completion_tokens : undefined) ?? undefined;
    const admitted = await o.jobs.admit(jobId, promptTokens, maxTokens);
    const id = `${kind === "chat" ? "chatcmpl" : "cmpl"}-${jobId}`;
    const created = Math.floor(Date.now() / 1000);
    const usage = (s: ServedJob) => ({ prompt_tokens: s.inputTokens, completion_tokens: s.outputTokenIds.length, total_tokens: s.inputTokens + s.outputTokenIds.length });

    if (!body.stream) {
      const s = await o.jobs.run(admitted);
      const text = new StreamingDecoder(manifest.tokenizer);
      const content = text.push(s.outputTokenIds) + text.flush();
      const choice =
        kind === "chat"
          ? { index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: s.finishReason }
          : { index: 0, text: content, logprobs: null, finish_reason: s.finishReason };
      return reply.send({ id, object: kind === "chat" ? "chat.completion" : "text_completion", created, model: body.model, choices: [choice], usage: usage(s), stepproof: stepproofFields(s) });
    }

    // Streaming: every check has passed, so from here on the answer is 200 + SSE.
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
    const send = (data: unknown) => {
      if (!res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
    };
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const chunk = (text: string, finish: string | null, first = false) =>
      kind === "chat"
        ? { index: 0, delta: first ? { role: "assistant", content: text } : finish ? {} : { content: text }, logprobs: null, finish_reason: finish }
        : { index: 0, text, logprobs: null, finish_reason: finish };
    const decoder = new StreamingDecoder(manifest.tokenizer);
    let first = true;
    try {
      // A client that disconnects does not stop the job: it is paid per token and committed anyway.
      const s = await o.jobs.run(admitted, (token) => {
        send({ id, object, created, model: body.model, choices: [chunk(decoder.push([token]), null, first)] });
        first = false;
      });
      const tail = decoder.flush();
      if (tail) send({ id, object, created, model: body.model, choices: [chunk(tail, null)] });
      send({ id, object, created, model: body.model, choices: [chunk("", s.finishReason)], usage: usage(s), stepproof: stepproofFields(s) });
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
