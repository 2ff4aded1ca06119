import { z } from "zod";

/**
 * Request bodies of the OpenAI-compatible endpoints (PROTOCOL §5.6). Unknown OpenAI parameters
 * pass through and are ignored (sampling is fixed by the job's on-chain samplingParams);
 * parameters that would change what is generated or returned in unsupported ways are refused.
 */
const jobId = z.union([z.string().regex(/^[1-9]\d{0,76}$/, "a positive decimal job id"), z.number().int().positive()]).transform((v) => BigInt(v));

const common = {
  model: z.string().min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullish(),
  n: z.literal(1).nullish(),
  stepproof_job_id: jobId.optional(),
  /** Up to four strings: the output text ends before the first one (PROTOCOL §5.6). */
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
};

export const completionRequestSchema = z
  .object({
    ...common,
    prompt: z.union([z.string().min(1), z.array(z.number().int().nonnegative()).min(1)]),
    max_tokens: z.number().int().positive().nullish(),
    echo: z.literal(false).nullish(),
    best_of: z.literal(1).nullish(),
  })
  .passthrough();

const textPart = z.object({ type: z.literal("text"), text: z.string() });
export const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(textPart).min(1)]),
});

export const chatRequestSchema = z
  .object({
    ...common,
    messages: z.array(chatMessageSchema).min(1),
    max_tokens: z.number().int().positive().nullish(),
    max_completion_tokens: z.number().int().positive().nullish(),
  })
  .passthrough();

export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** Header naming the job, for clients that set headers more easily than body fields. */
export const JOB_HEADER = "x-stepproof-job";
export const jobIdHeaderSchema = jobId;

/** `positions` of the trace endpoint: "3", "0,2,5", "4-9" or a mix; at most MAX_TRACE_POSITIONS. */
export const MAX_TRACE_POSITIONS = 64;
export const traceQuerySchema = z.object({
  layer: z.union([z.literal("tokens"), z.string().regex(/^\d+$/).transform(Number)]),
  positions: z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'comma-separated positions or ranges, e.g. "0,3,5-8"'),
});

export function parsePositions(spec: string): number[] {
  const out = new Set<number>();
  for (const part of spec.split(",")) {
    const [a, b] = part.split("-").map(Number) as [number, number | undefined];
    const end = b ?? a;
    if (end < a) throw new RangeError(`empty range ${part}`);
    if (end - a + 1 > MAX_TRACE_POSITIONS) throw new RangeError(`at most ${MAX_TRACE_POSITIONS} positions per request`);
    for (let t = a; t <= end; t++) out.add(t);
    if (out.size > MAX_TRACE_POSITIONS) throw new RangeError(`at most ${MAX_TRACE_POSITIONS} positions per request`);
  }
  return [...out].sort((x, y) => x - y);
}
