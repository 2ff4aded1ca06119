import * as ort from "onnxruntime-node";
import { StepproofRuntimeError } from "../errors.js";
import type { HiddenData } from "../forward.js";
import { sampleToken } from "../sampling.js";
import { KvBudgetError, KvSlots } from "./kv-slots.js";
import type { ServeSession } from "./serve-session.js";
import { Sequence, type ServeRequest, type ServeResult } from "./sequence.js";

/**
 * Continuous batching (PROTOCOL §4.2 "Serving"): requests of any prompt length join and leave a
 * running batch; every decode step is one forward pass of the serving graph over all active
 * sequences, each at its own position with its own KV slot, sampler and trace.
 *
 * One loop drives everything. A step: build the inputs (each sequence's last token, position
 * and key mask), start the forward pass on the serving worker (runtime/serve/serve-worker.ts),
 * and while it computes, hash the rows the previous pass produced and close the traces of
 * sequences that ended. Then append the new keys and values to the slots, queue the new rows
 * for hashing, and sample each sequence's next token. Nothing moves the KV slots while a pass
 * reads them: joining, leaving and failing happen between passes. A new request is prefilled
 * alone (one pass over its prompt) between steps, as soon as a slot and the KV budget allow;
 * until then it waits in a bounded queue.
 */
export type BatcherOptions = {
  /** Most sequences in one decode step (slots). Default 16. */
  maxBatch?: number;
  /** Bytes the KV slot buffers may take. Default 1 GiB. */
  kvCacheBytes?: number;
  /** Requests that may wait for a slot; beyond them submit() refuses (BatcherFullError). Default 64. */
  maxQueued?: number;
};

export class BatcherFullError extends StepproofRuntimeError {
  override name = "BatcherFullError";
  constructor(
    readonly active: number,
    readonly queued: number,
  ) {
    super(`the batch is full: ${active} sequences running and ${queued} waiting`, { details: "retry later, or raise maxBatch / maxQueued / kvCacheBytes" });
  }
}

/** Key slot position that masks a slot: above any query position. */
const MASKED = 1n << 40n;

export class ContinuousBatcher {
  readonly maxBatch: number;
  readonly maxQueued: number;
  readonly kv: KvSlots;
  /** active[slot]: the sequence in that KV slot. */
  readonly #active: Sequence[] = [];
  readonly #waiting: Sequence[] = [];
  /** Ended sequences whose traces close during the next forward pass. */
  readonly #ending: Sequence[] = [];
  #loop: Promise<void> | undefined;
  #iota = new BigInt64Array(0);
  /** Counters for benchmarks and metrics. */
  readonly stats = { steps: 0, stepSequences: 0, prefills: 0 };

  constructor(
    readonly session: ServeSession,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 16;
    this.maxQueued = options.maxQueued ?? 64;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    this.kv = new KvSlots(session.manifest.architecture, session.config.compute, options.kvCacheBytes ?? 2 ** 30, this.maxBatch);
  }

  get active(): number {
    return this.#active.length;
  }
  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Whether a request reaching `positions` could be taken now without waiting (a free slot and
   * room in the KV budget), and whether it could ever be (alone in the batch).
   */
  capacityFor(positions: number): { now: boolean; ever: boolean } {
    const ever = this.kv.fitsAlone(positions);
    return { now: ever && this.#waiting.length === 0 && this.#active.length < this.maxBatch && this.kv.fits(positions), ever };
  }

  /** Generate one request in the shared batch; resolves when its trace is closed. */
  submit(request: ServeRequest): Promise<ServeResult> {
    return new Promise<ServeResult>((resolve, reject) => {
      const seq = new Sequence(request, this.session.manifest, resolve, reject);
      if (!this.capacityFor(seq.reach).ever) throw new KvBudgetError(`a sequence of ${seq.reach} positions needs ${seq.reach * this.kv.bytesPerPosition} bytes of KV cache; the budget is ${this.kv.budgetBytes}`);
      if (this.#waiting.length >= this.maxQueued) throw new BatcherFullError(this.#active.length, this.#waiting.length);
      this.#waiting.push(seq);
      this.#start();
    });
  }

  /** Start the loop unless it runs; a request submitted while it winds down starts the next one. */
  #start(): void {
    this.#loop ??= this.#run()
      // A bug in the loop itself must not leave requests waiting forever (or crash the node).
      .catch((err: unknown) => {
        for (const seq of [...this.#active]) this.#fail(seq, err);
        for (const seq of this.#waiting.splice(0)) seq.reject(err);
      })
      .finally(() => {
        this.#loop = undefined;
        if (this.#waiting.length > 0) this.#start();
      });
  }

  /** Resolves when every submitted request has ended. */
  async idle(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#active.length > 0 || this.#waiting.length > 0) {
      while (this.#waiting.length > 0 && this.#active.length < this.maxBatch && this.kv.fits(this.#waiting[0]!.reach)) {
        await this.#prefill(this.#waiting.shift()!);
      }
      if (this.#active.length > 0) await this.#decode();
    }
    for (const [seq, err] of await this.#background()) this.#fail(seq, err);
  }

  /**
   * Start a forward pass on the serving worker, do the trace work that waits while it computes,
   * then return its outputs. A sequence whose trace failed meanwhile leaves the batch only once
   * the pass is over: its slot is an input of that pass, and leaving moves the KV slots.
   */
  async #forward(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    const pass = this.session.run(feeds);
    pass.catch(() => {}); // awaited below; without a handler it would count as unhandled meanwhile
    const failed = await this.#background();
    try {
      return await pass;
    } finally {
      for (const [seq, err] of failed) this.#fail(seq, err);
    }
  }

  /** Hash pending rows of every sequence; close the traces of the ones that ended. Returns the sequences whose trace failed. */
  async #background(): Promise<[Sequence, unknown][]> {
    const failed: [Sequence, unknown][] = [];
    for (const seq of [...this.#active]) {
      try {
        await seq.flush();
      } catch (err) {
        failed.push([seq, err]);
      }
    }
    for (const seq of this.#ending.splice(0)) {
      try {
        await seq.finish();
      } catch (err) {
        seq.reject(err);
      }
    }
    return failed;
  }

  async #prefill(seq: Sequence): Promise<void> {
    seq.startedAt = performance.now();
    const { architecture: arch } = this.session.manifest;
    const P = seq.tokens.length;
    seq.slot = this.kv.add(seq.reach);
    this.#active.push(seq);
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor("int64", BigInt64Array.from(seq.tokens, BigInt), [1, P]),
      positions: new ort.Tensor("int64", BigInt64Array.from(seq.tokens, (_, i) => BigInt(i)), [1, P]),
      key_positions: new ort.Tensor("int64", BigInt64Array.from(seq.tokens, (_, i) => BigInt(i)), [1, P]),
    };
    this.kv.feedsEmpty(feeds);
    try {
      const out = await this.#forward(feeds);
      this.stats.prefills++;
      this.#collect(out, [seq], P);
      const logits = out["logits"]!.data as Float32Array;
      seq.prefillMs = performance.now() - seq.startedAt;
      if (await seq.accept(sampleToken(logits.subarray(0, arch.vocab), seq.sampling, seq.tokens.length))) this.#end(seq);
    } catch (err) {
      this.#fail(seq, err);
    }
  }

  async #decode(): Promise<void> {
    const seqs = [...this.#active];
    const B = seqs.length;
    const cap = this.kv.cap;
    const T = cap + 1;
    if (this.#iota.length < cap) this.#iota = BigInt64Array.from({ length: cap }, (_, i) => BigInt(i));
    const tokens = new BigInt64Array(B);
    const positions = new BigInt64Array(B);
    const keyPositions = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) {
      const seq = seqs[b]!;
      const len = this.kv.lengths[b]!;
      tokens[b] = BigInt(seq.tokens[seq.tokens.length - 1]!);
      positions[b] = BigInt(seq.position);
      keyPositions.set(this.#iota.subarray(0, len), b * T);
      keyPositions.fill(MASKED, b * T + len, b * T + cap);
      keyPositions[b * T + cap] = positions[b]!;
    }
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor("int64", tokens, [B, 1]),
      positions: new ort.Tensor("int64", positions, [B, 1]),
      key_positions: new ort.Tensor("int64", keyPositions, [B, T]),
    };
    this.kv.feeds(B, feeds);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.#forward(feeds);
    } catch (err) {
      // A failed pass leaves no sequence in a known state: end them all.
      for (const seq of seqs) this.#fail(seq, err);
      return;
    }
    this.stats.steps++;
    this.stats.stepSequences += B;
    this.#collect(out, seqs, 1);
    const vocab = this.session.manifest.architecture.vocab;
    const logits = out["logits"]!.data as Float32Array;
    for (let b = 0; b < B; b++) {
      const seq = seqs[b]!;
      if (seq.slot < 0) continue; // failed during the pass
      try {
        if (await seq.accept(sampleToken(logits.subarray(b * vocab, (b + 1) * vocab), seq.sampling, seq.tokens.length))) this.#end(seq);
      } catch (err) {
        this.#fail(seq, err);
      }
    }
  }

  /** New keys/values into the slots, new rows queued for hashing (batch index b = seqs[b]). */
  #collect(out: ort.InferenceSession.OnnxValueMapType, seqs: Sequence[], S: number): void {
    const { layers, hidden } = this.session.manifest.architecture;
    const keys: HiddenData[] = [];
    const values: HiddenData[] = [];
    for (let l = 1; l <= layers; l++) {
      keys.push(out[`key_${l}`]!.data as HiddenData);
      values.push(out[`value_${l}`]!.data as HiddenData);
    }
    const h = Array.from({ length: layers + 1 }, (_, l) => out[`h_${l}`]!.data as HiddenData);
    seqs.forEach((seq, b) => {
      if (seq.slot < 0) return; // failed during the pass: its row of the outputs is dropped
      const start = this.kv.lengths[seq.slot]!;
      this.kv.append(seq.slot, keys, values, b, S);
      if (seq.trace) for (let l = 0; l <= layers; l++) seq.pending.push({ layer: l, start, data: h[l]!.subarray(b * S * hidden, (b + 1) * S * hidden), rows: S });
    });
  }

  /** Leave the batch (its slot goes to the last sequence); the trace closes in the background. */
  #end(seq: Sequence): void {
    this.#release(seq);
    this.#ending.push(seq);
  }

  #fail(seq: Sequence, err: unknown): void {
    this.#release(seq);
    seq.reject(err);
  }

  #release(seq: Sequence): void {
    if (seq.slot < 0) return;
    const moved = this.kv.remove(seq.slot);
    if (moved >= 0) {
      const last = this.#active[moved]!;
      this.#active[seq.slot] = last;
      last.slot = seq.slot;
    }
    this.#active.pop();
    seq.slot = -1;
  }
}
