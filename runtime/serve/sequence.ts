import { assertDtype } from "../../protocol/encoding/index.js";
import type { HiddenData } from "../forward.js";
import { assertJudgeableSampling, GenerationError, type GenerateReturnType, type TokenCallbackResult } from "../generate.js";
import type { ModelManifest } from "../model/manifest.js";
import { decodeSamplingParams, type SamplingParams } from "../sampling.js";
import { TraceBuilder, type TraceSink } from "../trace/builder.js";

/** One request to the batcher: a job's prompt, its sampling rule, where its trace goes. */
export type ServeRequest = {
  promptTokens: readonly number[];
  maxNewTokens: number;
  /** PROTOCOL §4.4 packing; 0n = greedy. A sampled job's noise is keyed by its seed alone. */
  samplingParams: bigint;
  trace: boolean;
  /** Where captured rows are also appended (the disk trace store). */
  traceSink?: TraceSink;
  /** Stop after sampling the tokenizer's EOS (default true). */
  stopAtEos?: boolean;
  /** Each sampled token as soon as it exists; true ends the sequence after it (a stop string). */
  onToken?: (token: number, index: number) => TokenCallbackResult;
};

export type ServeResult = GenerateReturnType;

/**
 * A sequence in the batch: its tokens, sampler and trace, and the rows captured at the last step
 * that still wait to be hashed (before the next forward pass, runtime/serve/batcher.ts).
 */
export class Sequence {
  readonly tokens: number[];
  readonly outputTokens: number[] = [];
  readonly sampling: SamplingParams;
  readonly trace: TraceBuilder | undefined;
  readonly reach: number;
  /** Rows of the last forward pass not yet handed to the trace builder. */
  pending: { layer: number; start: number; data: HiddenData; rows: number }[] = [];
  done = false;
  /** Slot in the KV cache while active. */
  slot = -1;
  readonly submittedAt = performance.now();
  startedAt = 0;
  prefillMs = 0;
  /** Main-thread time spent hashing and storing this sequence's trace. */
  traceMs = 0;

  constructor(
    readonly request: ServeRequest,
    readonly manifest: ModelManifest,
    readonly resolve: (r: ServeResult) => void,
    readonly reject: (e: unknown) => void,
  ) {
    const { architecture: arch, encoding } = manifest;
    const P = request.promptTokens.length;
    if (P < 1) throw new GenerationError("the prompt needs at least one token");
    if (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1) throw new GenerationError(`maxNewTokens must be a positive integer, got ${request.maxNewTokens}`);
    if (P + request.maxNewTokens > arch.context) throw new GenerationError(`prompt (${P}) + maxNewTokens (${request.maxNewTokens}) exceeds the context of ${arch.context}`);
    for (const t of request.promptTokens) if (!Number.isInteger(t) || t < 0 || t >= arch.vocab) throw new GenerationError(`prompt token ${t} is outside the vocabulary of ${arch.vocab}`);
    this.sampling = decodeSamplingParams(request.samplingParams);
    assertJudgeableSampling(this.sampling);
    this.tokens = [...request.promptTokens];
    // Positions fed to the model: the prompt and every output token but the last.
    this.reach = P + request.maxNewTokens - 1;
    this.trace = request.trace ? new TraceBuilder(arch.layers, arch.hidden, encoding.chunkSize, assertDtype(encoding.traceDtype), request.traceSink) : undefined;
  }

  /** Position of the next token fed to the model (the last sampled one). */
  get position(): number {
    return this.tokens.length - 1;
  }

  /** Hand the pending rows to the trace builder (hash them, append them to the sink). */
  async flush(): Promise<void> {
    if (!this.trace || this.pending.length === 0) return;
    const t0 = performance.now();
    const rows = this.pending;
    this.pending = [];
    for (const r of rows) {
      const p = this.trace.addRows(r.layer, r.start, r.data, r.rows);
      if (p) await p;
    }
    this.traceMs += performance.now() - t0;
  }

  /** Record a sampled token; returns whether the sequence is finished. */
  async accept(token: number): Promise<boolean> {
    this.tokens.push(token);
    this.outputTokens.push(token);
    const stop = (await this.request.onToken?.(token, this.outputTokens.length - 1)) === true;
    const eos = (this.request.stopAtEos ?? true) && token === this.manifest.tokenizer.eos;
    this.done = stop || eos || this.outputTokens.length >= this.request.maxNewTokens;
    return this.done;
  }

  /** Close the trace (its root) and resolve. */
  async finish(): Promise<void> {
    await this.flush();
    const t0 = performance.now();
    const commitment = this.trace ? await this.trace.finish(this.tokens) : undefined;
    this.traceMs += performance.now() - t0;
    const totalMs = performance.now() - this.startedAt;
    this.resolve({
      tokens: this.tokens,
      outputTokens: this.outputTokens,
      ...(commitment ? { trace: commitment } : {}),
      timings: { prefillMs: this.prefillMs, decodeMs: totalMs - this.prefillMs, totalMs, traceMs: this.traceMs },
    });
  }
}
