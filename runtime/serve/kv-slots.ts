import * as ort from "onnxruntime-node";
import { headDim, type Architecture } from "../model/architecture.js";
import type { GraphVariant } from "../model/manifest.js";
import { StepproofRuntimeError } from "../errors.js";

/**
 * The KV cache of a ragged batch (PROTOCOL §4.2 "Serving"): one slot per sequence, `cap` key
 * positions per slot, per layer one key buffer `[slots, kvHeads, hd, cap]` (transposed, so the
 * serving graph multiplies by it without a transpose) and one value buffer
 * `[slots, kvHeads, cap, hd]`. Sequence b holds its positions 0..len_b−1 in the first len_b
 * columns of slot b; the serving graph masks the rest.
 *
 * Active sequences occupy slots 0..B−1, so the graph's inputs are views of the buffers' first B
 * slots (no copy per step). Only a membership change moves data: a leaving sequence's slot is
 * refilled with the last one; a sequence needing more positions than `cap`, or more slots than
 * allocated, reallocates (capacities grow by doubling, so a node reallocates a few times).
 */
export class KvBudgetError extends StepproofRuntimeError {
  override name = "KvBudgetError";
}

type Buffer = Float32Array | Uint16Array;

export class KvSlots {
  readonly kvHeads: number;
  readonly hd: number;
  readonly layers: number;
  /** Bytes one sequence position occupies over all layers, keys and values. */
  readonly bytesPerPosition: number;
  /** No sequence needs more positions than the context. */
  readonly maxPositions: number;
  #slots = 0;
  #cap = 0;
  #keys: Buffer[] = [];
  #values: Buffer[] = [];
  /** lengths[slot]: positions cached in that slot. */
  readonly lengths: number[] = [];

  constructor(
    arch: Architecture,
    readonly compute: GraphVariant,
    /** Most bytes the slot buffers may take (allocated, not merely used). */
    readonly budgetBytes: number,
    /** Most sequences at once (the batch limit). */
    readonly maxSlots: number = Number.MAX_SAFE_INTEGER,
  ) {
    this.maxPositions = arch.context;
    this.kvHeads = arch.kvHeads;
    this.hd = headDim(arch);
    this.layers = arch.layers;
    this.bytesPerPosition = 2 * arch.layers * arch.kvHeads * this.hd * (compute === "f16" ? 2 : 4);
  }

  get used(): number {
    return this.lengths.length;
  }
  get cap(): number {
    return this.#cap;
  }
  get allocatedBytes(): number {
    return this.#slots * this.#cap * this.bytesPerPosition;
  }

  /** Bytes the buffers would take to hold `slots` sequences of up to `positions` each (as allocated: doubled). */
  bytesFor(slots: number, positions: number): number {
    return grow(this.#slots, slots, this.maxSlots, 1) * grow(this.#cap, positions, this.maxPositions, 16) * this.bytesPerPosition;
  }

  /** Whether a sequence reaching `positions` fits the budget alone (else it never will). */
  fitsAlone(positions: number): boolean {
    return positions <= this.maxPositions && grow(0, positions, this.maxPositions, 16) * this.bytesPerPosition <= this.budgetBytes;
  }

  /** Whether one more sequence reaching `positions` fits the budget next to the current ones. */
  fits(positions: number): boolean {
    if (this.used + 1 > this.maxSlots || !this.fitsAlone(positions)) return false;
    return this.bytesFor(this.used + 1, Math.max(this.#cap, positions)) <= this.budgetBytes;
  }

  /** Take the next slot for a sequence that will reach `positions`; returns its index. */
  add(positions: number): number {
    if (!this.fits(positions)) throw new KvBudgetError(`a sequence of ${positions} positions does not fit the KV budget of ${this.budgetBytes} bytes next to ${this.used} others`);
    const slots = grow(this.#slots, this.used + 1, this.maxSlots, 1);
    const cap = grow(this.#cap, positions, this.maxPositions, 16);
    if (slots !== this.#slots || cap !== this.#cap) this.#reallocate(slots, cap);
    this.lengths.push(0);
    return this.used - 1;
  }

  /** Free `slot`: the last slot's sequence moves into it (returns the index it moved from, or -1). */
  remove(slot: number): number {
    const last = this.used - 1;
    if (slot < 0 || slot > last) throw new RangeError(`slot ${slot} is not in use`);
    if (slot !== last) {
      const len = this.lengths[last]!;
      for (let l = 0; l < this.layers; l++) {
        const k = this.#keys[l]!;
        const v = this.#values[l]!;
        for (let h = 0; h < this.kvHeads; h++) {
          for (let e = 0; e < this.hd; e++) {
            const from = this.#kIndex(last, h, e, 0);
            k.copyWithin(this.#kIndex(slot, h, e, 0), from, from + len);
          }
          const from = this.#vIndex(last, h, 0);
          v.copyWithin(this.#vIndex(slot, h, 0), from, from + len * this.hd);
        }
      }
      this.lengths[slot] = len;
    }
    this.lengths.pop();
    // An empty batch gives its buffers back (the next one sizes them afresh).
    if (this.used === 0) this.#reallocate(0, 0);
    return slot !== last ? last : -1;
  }

  /**
   * Append S positions to `slot` from the graph's outputs `key_<l>` / `value_<l>`
   * ([B,kvHeads,S,hd]) at batch index `b`.
   */
  append(slot: number, keys: readonly Buffer[], values: readonly Buffer[], b: number, S: number): void {
    const start = this.lengths[slot]!;
    const cap = this.#cap;
    if (start + S > cap) throw new RangeError(`slot ${slot} holds ${cap} positions; ${start + S} needed`);
    const { hd, kvHeads } = this;
    // Plain index loops (no subarray per head): this runs for every sequence between two passes.
    for (let l = 0; l < this.layers; l++) {
      const k = this.#keys[l]!;
      const v = this.#values[l]!;
      const nk = keys[l]!;
      const nv = values[l]!;
      for (let h = 0; h < kvHeads; h++) {
        const src = (b * kvHeads + h) * S * hd;
        const vDst = ((slot * kvHeads + h) * cap + start) * hd;
        for (let i = 0; i < S * hd; i++) v[vDst + i] = nv[src + i]!;
        const kBase = (slot * kvHeads + h) * hd * cap + start;
        for (let s = 0; s < S; s++) {
          const row = src + s * hd;
          for (let e = 0; e < hd; e++) k[kBase + e * cap + s] = nk[row + e]!;
        }
      }
    }
    this.lengths[slot] = start + S;
  }

  /** Graph inputs past_key_<l> / past_value_<l> for the first `B` slots (views, no copy). */
  feeds(B: number, into: Record<string, ort.Tensor>): void {
    const type = this.compute === "f16" ? "float16" : "float32";
    const kv = this.kvHeads * this.hd * this.#cap;
    for (let l = 0; l < this.layers; l++) {
      into[`past_key_${l + 1}`] = new ort.Tensor(type, this.#keys[l]!.subarray(0, B * kv), [B, this.kvHeads, this.hd, this.#cap]);
      into[`past_value_${l + 1}`] = new ort.Tensor(type, this.#values[l]!.subarray(0, B * kv), [B, this.kvHeads, this.#cap, this.hd]);
    }
  }

  /** Empty past inputs (a prefill: the sequence has no cached position yet). */
  feedsEmpty(into: Record<string, ort.Tensor>): void {
    const type = this.compute === "f16" ? "float16" : "float32";
    const empty = this.compute === "f16" ? new Uint16Array(0) : new Float32Array(0);
    for (let l = 0; l < this.layers; l++) {
      into[`past_key_${l + 1}`] = new ort.Tensor(type, empty, [1, this.kvHeads, this.hd, 0]);
      into[`past_value_${l + 1}`] = new ort.Tensor(type, empty, [1, this.kvHeads, 0, this.hd]);
    }
  }

  #kIndex(slot: number, h: number, e: number, pos: number): number {
    return ((slot * this.kvHeads + h) * this.hd + e) * this.#cap + pos;
  }
  #vIndex(slot: number, h: number, pos: number): number {
    return ((slot * this.kvHeads + h) * this.#cap + pos) * this.hd;
  }

  #reallocate(slots: number, cap: number): void {
    const size = slots * this.kvHeads * this.hd * cap;
    // Shared memory: the serving worker reads these as the past_* inputs without a copy.
    const make = (): Buffer => (this.compute === "f16" ? new Uint16Array(new SharedArrayBuffer(2 * size)) : new Float32Array(new SharedArrayBuffer(4 * size)));
    const oldCap = this.#cap;
    const keys = Array.from({ length: this.layers }, make);
    const values = Array.from({ length: this.layers }, make);
    for (let l = 0; l < this.layers && oldCap > 0; l++) {
      for (let s = 0; s < this.used; s++) {
        const len = this.lengths[s]!;
        for (let h = 0; h < this.kvHeads; h++) {
          for (let e = 0; e < this.hd; e++) {
            const from = ((s * this.kvHeads + h) * this.hd + e) * oldCap;
            keys[l]!.set(this.#keys[l]!.subarray(from, from + len), ((s * this.kvHeads + h) * this.hd + e) * cap);
          }
          const from = (s * this.kvHeads + h) * oldCap * this.hd;
          values[l]!.set(this.#values[l]!.subarray(from, from + len * this.hd), (s * this.kvHeads + h) * cap * this.hd);
        }
      }
    }
    this.#keys = keys;
    this.#values = values;
    this.#slots = slots;
    this.#cap = cap;
  }
}

/** Capacity for `need` given the current one: unchanged if enough, else doubled until it is (from `min`), at most `limit`. */
function grow(current: number, need: number, limit: number, min: number): number {
  let c = Math.max(current, min);
  while (c < need) c *= 2;
  return Math.max(need, Math.min(c, limit));
}
