import { assertDtype } from "../protocol/encoding/index.js";
import { StepproofRuntimeError } from "./errors.js";
import { embed, emptyKvCache, headLogits, runBlock, type HiddenData, type KvCache } from "./forward.js";
import { decodeSamplingParams, sampleToken, samplingRule, type SamplingParams } from "./sampling.js";
import { getModelSessions, type ExecutionProvider, type SessionConfig } from "./session.js";
import { TraceBuilder, type TraceSink } from "./trace/builder.js";
import type { TraceCommitment } from "./trace/commitment.js";

export type GenerateParameters = {
  modelDir: string;
  promptTokens: readonly number[];
  maxNewTokens: number;
  /** PROTOCOL §4.4 packing: temperature bits | top-k << 32 | seed << 64. 0n = greedy. */
  samplingParams: bigint;
  executionProvider?: ExecutionProvider;
  /** Other setup knobs (threads, optimization level, graph variant); executionProvider wins. */
  session?: SessionConfig;
  trace: boolean;
  /** Stop after sampling the tokenizer's EOS (default true). */
  stopAtEos?: boolean;
  /** Where captured rows are also appended (the disk trace store). */
  traceSink?: TraceSink;
  /** Hash trace leaves inline (default: best on few shared cores) or on a worker thread. */
  traceHashing?: "worker" | "inline";
  /**
   * Called with each sampled token as soon as it exists (a server streams it); returning true
   * ends generation after this token (a stop string appeared in the text).
   */
  onToken?: (token: number, index: number) => TokenCallbackResult;
  /**
   * Sees each boundary's rows h[start..start+rows)[layer] before they are captured and fed to
   * the next block; it may change them in place (the demo's cheating prover does).
   */
  onHidden?: (layer: number, start: number, h: HiddenData, rows: number) => void;
};

export type GenerateReturnType = {
  /** Prompt followed by output: the N tokens of the trace. */
  tokens: number[];
  outputTokens: number[];
  /** Present iff `trace`: root, hidden rows h[t][l], proofs. */
  trace?: TraceCommitment;
  /** traceMs: time spent capturing and committing the trace, included in totalMs. */
  timings: { prefillMs: number; decodeMs: number; totalMs: number; traceMs: number };
};

/** `true` stops generation after the token just sampled. */
export type TokenCallbackResult = void | boolean | Promise<void | boolean>;

export class GenerationError extends StepproofRuntimeError {
  override name = "GenerationError";
}

/**
 * Refuse a rule the judge cannot check. A sampled job needs nothing else: its Gumbel noise is
 * keyed by the seed in samplingParams alone (PROTOCOL §4.4), not by an on-chain job id.
 */
export function assertJudgeableSampling(sampling: SamplingParams): void {
  const rule = samplingRule(sampling);
  if (rule.kind === "unverifiable") throw new GenerationError(`sampling rule cannot be judged on-chain: ${rule.reason}`, { details: "PROTOCOL §4.4: top-k 0 (Gumbel-max over the whole vocabulary, τ ≤ 2^16) or 1 (greedy)" });
}

/**
 * Generate with a KV cache: the prompt is prefilled in one pass through every block, then one
 * token per step. With `trace`, every boundary h[t][l] is hashed as it is produced.
 */
export async function generate(p: GenerateParameters): Promise<GenerateReturnType> {
  const started = performance.now();
  const s = await getModelSessions(p.modelDir, { ...p.session, ...(p.executionProvider ? { executionProvider: p.executionProvider } : {}) });
  const { architecture: arch, encoding, tokenizer } = s.manifest;
  const P = p.promptTokens.length;
  if (P < 1) throw new GenerationError("the prompt needs at least one token");
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 1) throw new GenerationError(`maxNewTokens must be a positive integer, got ${p.maxNewTokens}`);
  if (P + p.maxNewTokens > arch.context) throw new GenerationError(`prompt (${P}) + maxNewTokens (${p.maxNewTokens}) exceeds the context of ${arch.context}`);
  for (const t of p.promptTokens) if (!Number.isInteger(t) || t < 0 || t >= arch.vocab) throw new GenerationError(`prompt token ${t} is outside the vocabulary of ${arch.vocab}`);
  const sampling = decodeSamplingParams(p.samplingParams);
  assertJudgeableSampling(sampling);
  const eos = tokenizer.eos;
  const stopAtEos = p.stopAtEos ?? true;
  const trace = p.trace ? new TraceBuilder(arch.layers, arch.hidden, encoding.chunkSize, assertDtype(encoding.traceDtype), p.traceSink, p.traceHashing ?? "inline") : undefined;

  let traceMs = 0;
  const capture = async (layer: number, start: number, h: HiddenData, rows: number) => {
    p.onHidden?.(layer, start, h, rows);
    if (!trace) return;
    const t0 = performance.now();
    const pending = trace.addRows(layer, start, h, rows);
    if (pending) await pending;
    traceMs += performance.now() - t0;
  };
  const tokens = [...p.promptTokens];
  const caches: KvCache[] = Array.from({ length: arch.layers }, () => emptyKvCache(s));
  /** Feed `fed` (tokens at positions start..) through every block; returns h[last][L]. */
  const step = async (fed: number[], start: number): Promise<HiddenData> => {
    const positions = fed.map((_, i) => start + i);
    let h = await embed(s, fed);
    await capture(0, start, h, fed.length);
    for (let l = 1; l <= arch.layers; l++) {
      const out = await runBlock(s, l, h, positions, caches[l - 1]!);
      caches[l - 1] = out.present;
      h = out.hidden;
      await capture(l, start, h, fed.length);
    }
    return h.subarray((fed.length - 1) * arch.hidden);
  };

  const last = await step(tokens, 0);
  const prefillMs = performance.now() - started;
  let logits = await headLogits(s, last, 1);
  const outputTokens: number[] = [];
  for (;;) {
    const next = sampleToken(logits, sampling, tokens.length);
    tokens.push(next);
    outputTokens.push(next);
    const stop = (await p.onToken?.(next, outputTokens.length - 1)) === true;
    if (stop || outputTokens.length >= p.maxNewTokens || (stopAtEos && next === eos)) break;
    logits = await headLogits(s, await step([next], tokens.length - 1), 1);
  }
  const finishStart = performance.now();
  const commitment = trace ? await trace.finish(tokens) : undefined;
  if (trace) traceMs += performance.now() - finishStart;
  const totalMs = performance.now() - started;
  return {
    tokens,
    outputTokens,
    ...(commitment ? { trace: commitment } : {}),
    timings: { prefillMs, decodeMs: totalMs - prefillMs, totalMs, traceMs },
  };
}
