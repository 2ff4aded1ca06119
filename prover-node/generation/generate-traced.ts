import { assertDtype, floatToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { embed, emptyKvCache, headLogits, runBlock, type HiddenData, type KvCache } from "../../runtime/forward.js";
import { GenerationError } from "../../runtime/generate.js";
import { decodeSamplingParams, sampleToken } from "../../runtime/sampling.js";
import { getModelSessions, type ExecutionProvider } from "../../runtime/session.js";
import { TraceBuilder, type TraceSink } from "../../runtime/trace/builder.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";

/** One element of h[position][layer] moved by `delta` (the demo's cheating prover). */
export type Corruption = { layer: number; position: number; element: number; delta: number };

export type GenerateTracedParameters = {
  modelDir: string;
  promptTokens: readonly number[];
  maxNewTokens: number;
  samplingParams: bigint;
  executionProvider?: ExecutionProvider;
  traceSink?: TraceSink;
  /** Called with each sampled token as soon as it exists (SSE streaming). */
  onToken?: (token: number, index: number) => void | Promise<void>;
  corrupt?: Corruption;
};

export type GenerateTracedReturnType = { tokens: number[]; outputTokens: number[]; trace: TraceCommitment; corrupted: boolean };

/**
 * runtime/generate.ts's loop (same sessions, KV cache, sampling, EOS rule, trace builder; a
 * test checks the roots agree) with two hooks the server needs: a per-token callback for
 * streaming, and a corruption for the demo's cheater.
 *
 * Corruption: the element is changed in the runtime's output buffer BEFORE the row is handed
 * to the trace builder, and that same buffer is the next block's input — so generation
 * continues from the perturbed state. The trace is then exactly what a cheater who skipped or
 * botched one step would commit: every step is honest except block `layer` at `position`
 * (h[t][l] ≠ block_l(h[·][l−1])), and all later layers and tokens follow consistently from it.
 * With `layer = 0` the embedding lookup itself is the faulty step.
 */
export async function generateTraced(p: GenerateTracedParameters): Promise<GenerateTracedReturnType> {
  const s = await getModelSessions(p.modelDir, p.executionProvider ? { executionProvider: p.executionProvider } : {});
  const { architecture: arch, encoding, tokenizer } = s.manifest;
  const P = p.promptTokens.length;
  if (P < 1) throw new GenerationError("the prompt needs at least one token");
  if (!Number.isInteger(p.maxNewTokens) || p.maxNewTokens < 1) throw new GenerationError(`maxNewTokens must be a positive integer, got ${p.maxNewTokens}`);
  if (P + p.maxNewTokens > arch.context) throw new GenerationError(`prompt (${P}) + maxNewTokens (${p.maxNewTokens}) exceeds the context of ${arch.context}`);
  for (const t of p.promptTokens) if (!Number.isInteger(t) || t < 0 || t >= arch.vocab) throw new GenerationError(`prompt token ${t} is outside the vocabulary of ${arch.vocab}`);
  const c = p.corrupt;
  if (c && (c.layer > arch.layers || c.element >= arch.hidden)) throw new GenerationError(`corruption of h[${c.position}][${c.layer}][${c.element}] is outside the model`);
  const sampling = decodeSamplingParams(p.samplingParams);
  const trace = new TraceBuilder(arch.layers, arch.hidden, encoding.chunkSize, assertDtype(encoding.traceDtype), p.traceSink);
  let corrupted = false;

  const perturb = (h: HiddenData, layer: number, start: number, rows: number): void => {
    if (!c || c.layer !== layer || c.position < start || c.position >= start + rows) return;
    const i = (c.position - start) * arch.hidden + c.element;
    if (h instanceof Uint16Array) h[i] = floatToHalfBits(halfBitsToFloat(h[i]!) + c.delta);
    else h[i] = h[i]! + c.delta;
    corrupted = true;
  };

  // Await only an asynchronous sink: no event-loop turn per row otherwise (as runtime/generate.ts).
  const capture = async (layer: number, start: number, h: HiddenData, rows: number) => {
    const pending = trace.addRows(layer, start, h, rows);
    if (pending) await pending;
  };
  const tokens = [...p.promptTokens];
  const caches: KvCache[] = Array.from({ length: arch.layers }, () => emptyKvCache(s));
  const step = async (fed: number[], start: number): Promise<HiddenData> => {
    const positions = fed.map((_, i) => start + i);
    let h = await embed(s, fed);
    perturb(h, 0, start, fed.length);
    await capture(0, start, h, fed.length);
    for (let l = 1; l <= arch.layers; l++) {
      const out = await runBlock(s, l, h, positions, caches[l - 1]!);
      caches[l - 1] = out.present;
      h = out.hidden;
      perturb(h, l, start, fed.length);
      await capture(l, start, h, fed.length);
    }
    return h.subarray((fed.length - 1) * arch.hidden);
  };

  let logits = await headLogits(s, await step(tokens, 0), 1);
  const outputTokens: number[] = [];
  for (;;) {
    const next = sampleToken(logits, sampling, tokens.length);
    tokens.push(next);
    outputTokens.push(next);
    await p.onToken?.(next, outputTokens.length - 1);
    if (outputTokens.length >= p.maxNewTokens || next === tokenizer.eos) break;
    logits = await headLogits(s, await step([next], tokens.length - 1), 1);
  }
  return { tokens, outputTokens, trace: await trace.finish(tokens), corrupted };
}
