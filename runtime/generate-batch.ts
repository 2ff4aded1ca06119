import { assertDtype } from "../protocol/encoding/index.js";
import { embed, emptyKvCache, headLogits, runBlock, type HiddenData, type KvCache } from "./forward.js";
import { assertJudgeableSampling, GenerationError } from "./generate.js";
import { decodeSamplingParams, sampleToken } from "./sampling.js";
import { getModelSessions, type SessionConfig } from "./session.js";
import { TraceBuilder } from "./trace/builder.js";
import type { TraceCommitment } from "./trace/commitment.js";

/** A sampled request's noise is keyed by the seed in its samplingParams (PROTOCOL §4.4). */
export type BatchRequest = { promptTokens: readonly number[]; maxNewTokens: number; samplingParams: bigint };

export type GenerateBatchParameters = {
  modelDir: string;
  /** Prompts of equal length (lockstep batching: one positions vector for the whole batch). */
  requests: readonly BatchRequest[];
  session?: SessionConfig;
  trace: boolean;
  stopAtEos?: boolean;
};

export type GenerateBatchReturnType = {
  results: { tokens: number[]; outputTokens: number[]; trace?: TraceCommitment }[];
  timings: { totalMs: number };
};

/**
 * Several requests in one forward pass per step (PROTOCOL §4.2). On CPU a decode step is
 * bound by reading the weights, so B sequences cost little more than one (bench:trace).
 * Each request keeps its own sampler and trace; a finished request keeps being fed its last
 * token (its rows are no longer captured) until the longest one ends.
 */
export async function generateBatch(p: GenerateBatchParameters): Promise<GenerateBatchReturnType> {
  const started = performance.now();
  const B = p.requests.length;
  if (B < 1) throw new GenerationError("a batch needs at least one request");
  const P = p.requests[0]!.promptTokens.length;
  if (P < 1 || p.requests.some((r) => r.promptTokens.length !== P)) throw new GenerationError("batched prompts must have the same non-zero length", { details: "group requests by prompt length or run them one by one" });
  const s = await getModelSessions(p.modelDir, p.session);
  const { architecture: arch, encoding, tokenizer } = s.manifest;
  const maxNew = Math.max(...p.requests.map((r) => r.maxNewTokens));
  if (P + maxNew > arch.context) throw new GenerationError(`prompt (${P}) + maxNewTokens (${maxNew}) exceeds the context of ${arch.context}`);
  for (const r of p.requests) {
    if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) throw new GenerationError(`maxNewTokens must be a positive integer, got ${r.maxNewTokens}`);
    for (const t of r.promptTokens) if (!Number.isInteger(t) || t < 0 || t >= arch.vocab) throw new GenerationError(`prompt token ${t} is outside the vocabulary of ${arch.vocab}`);
    assertJudgeableSampling(decodeSamplingParams(r.samplingParams));
  }
  const stopAtEos = p.stopAtEos ?? true;
  const d = arch.hidden;
  const seqs = p.requests.map((r) => ({
    tokens: [...r.promptTokens],
    out: [] as number[],
    done: false,
    sampling: decodeSamplingParams(r.samplingParams),
    trace: p.trace ? new TraceBuilder(arch.layers, d, encoding.chunkSize, assertDtype(encoding.traceDtype)) : undefined,
  }));
  const caches: KvCache[] = Array.from({ length: arch.layers }, () => emptyKvCache(s, B));
  const capture = (layer: number, start: number, h: HiddenData, S: number) => {
    seqs.forEach((q, b) => {
      if (!q.done) void q.trace?.addRows(layer, start, h.subarray(b * S * d, (b + 1) * S * d), S);
    });
  };
  const step = async (fed: number[][], start: number): Promise<HiddenData> => {
    const S = fed[0]!.length;
    const positions = Array.from({ length: S }, (_, i) => start + i);
    let h = await embed(s, fed.flat(), B);
    capture(0, start, h, S);
    for (let l = 1; l <= arch.layers; l++) {
      const out = await runBlock(s, l, h, positions, caches[l - 1]!, B);
      caches[l - 1] = out.present;
      h = out.hidden;
      capture(l, start, h, S);
    }
    // Last row of every sequence, [B, d].
    const last = h instanceof Uint16Array ? new Uint16Array(B * d) : new Float32Array(B * d);
    for (let b = 0; b < B; b++) last.set(h.subarray((b * S + S - 1) * d, (b * S + S) * d), b * d);
    return last;
  };
  let last = await step(seqs.map((q) => q.tokens), 0);
  for (;;) {
    const logits = await headLogits(s, last, B);
    seqs.forEach((q, b) => {
      if (q.done) return;
      const next = sampleToken(logits.subarray(b * arch.vocab, (b + 1) * arch.vocab), q.sampling, q.tokens.length);
      q.tokens.push(next);
      q.out.push(next);
      if (q.out.length >= p.requests[b]!.maxNewTokens || (stopAtEos && next === tokenizer.eos)) q.done = true;
    });
    if (seqs.every((q) => q.done)) break;
    const pos = P + Math.max(...seqs.map((q) => q.out.length)) - 1;
    // Every sequence advances one position per step, so all are at `pos`.
    last = await step(seqs.map((q) => [q.tokens[q.tokens.length - 1]!]), pos);
  }
  const results = await Promise.all(
    seqs.map(async (q) => ({ tokens: q.tokens, outputTokens: q.out, ...(q.trace ? { trace: await q.trace.finish(q.tokens) } : {}) })),
  );
  return { results, timings: { totalMs: performance.now() - started } };
}
