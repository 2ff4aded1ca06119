import { floatToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { generate, GenerationError, type TokenCallbackResult } from "../../runtime/generate.js";
import { getModelSessions, type ExecutionProvider } from "../../runtime/session.js";
import type { TraceSink } from "../../runtime/trace/builder.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";

/**
 * One element of h[position][layer] moved by `delta` (the demo's cheating prover), or with
 * `layer: "all"` one element at every boundary, element + l at boundary l (a canary's trace,
 * PROTOCOL §9.3: whichever boundary an auditor re-executes, its step is wrong there).
 */
export type Corruption = { layer: number | "all"; position: number; element: number; delta: number };

export type GenerateTracedParameters = {
  modelDir: string;
  promptTokens: readonly number[];
  maxNewTokens: number;
  samplingParams: bigint;
  executionProvider?: ExecutionProvider;
  traceSink?: TraceSink;
  /** Called with each sampled token as soon as it exists (SSE streaming); true ends generation. */
  onToken?: (token: number, index: number) => TokenCallbackResult;
  corrupt?: Corruption;
};

export type GenerateTracedReturnType = { tokens: number[]; outputTokens: number[]; trace: TraceCommitment; corrupted: boolean };

/**
 * runtime/generate.ts with the server's two hooks: a per-token callback for streaming, and a
 * corruption for the demo's cheater.
 *
 * Corruption: the element is changed in the runtime's output buffer BEFORE the row is handed
 * to the trace builder, and that same buffer is the next block's input — so generation
 * continues from the perturbed state. The trace is then exactly what a cheater who skipped or
 * botched one step would commit: every step is honest except block `layer` at `position`
 * (h[t][l] ≠ block_l(h[·][l−1])), and all later layers and tokens follow consistently from it.
 * With `layer = 0` the embedding lookup itself is the faulty step.
 */
export async function generateTraced(p: GenerateTracedParameters): Promise<GenerateTracedReturnType> {
  const c = p.corrupt;
  if (c) {
    const { architecture: arch } = (await getModelSessions(p.modelDir, p.executionProvider ? { executionProvider: p.executionProvider } : {})).manifest;
    const top = c.layer === "all" ? arch.layers : c.layer;
    const lastElement = c.element + (c.layer === "all" ? arch.layers : 0);
    if (top > arch.layers || lastElement >= arch.hidden) throw new GenerationError(`corruption of h[${c.position}][${c.layer}][${c.element}] is outside the model`);
  }
  let corrupted = false;
  const out = await generate({
    modelDir: p.modelDir,
    promptTokens: p.promptTokens,
    maxNewTokens: p.maxNewTokens,
    samplingParams: p.samplingParams,
    ...(p.executionProvider ? { executionProvider: p.executionProvider } : {}),
    trace: true,
    ...(p.traceSink ? { traceSink: p.traceSink } : {}),
    ...(p.onToken ? { onToken: p.onToken } : {}),
    onHidden: (layer, start, h, rows) => {
      if (!c || (c.layer !== "all" && c.layer !== layer) || c.position < start || c.position >= start + rows) return;
      // Distinct elements per boundary: the same element at every layer would mostly pass from
      // one boundary to the next through the residual stream, hiding all but the first.
      const i = (c.position - start) * h.length / rows + c.element + (c.layer === "all" ? layer : 0);
      if (h instanceof Uint16Array) h[i] = floatToHalfBits(halfBitsToFloat(h[i]!) + c.delta);
      else h[i] = h[i]! + c.delta;
      corrupted = true;
    },
  });
  return { tokens: out.tokens, outputTokens: out.outputTokens, trace: out.trace!, corrupted };
}
