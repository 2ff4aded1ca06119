import { open, type FileHandle } from "node:fs/promises";
import { ModelPackageError, UnsupportedCheckpointError } from "../errors.js";
import { f32Bits, type Architecture } from "./architecture.js";
import { toBinary16 } from "./binary16.js";
import { BlockKind, GlobalKind, type TensorSpec } from "./layout.js";

/**
 * Reader for Karpathy's llama2.c checkpoints (the "legacy" version-0 `model.bin` that run.c
 * reads): a header of seven int32 — dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; a negative vocab_size means the classifier is NOT shared with the embedding — then
 * every weight as little-endian float32, tensor after tensor, each with all layers stacked:
 *
 *   embedding [vocab, dim] · rms_att [L, dim] · wq [L, dim, dim] · wk [L, kvDim, dim] ·
 *   wv [L, kvDim, dim] · wo [L, dim, dim] · rms_ffn [L, dim] · w1 [L, hidden, dim] ·
 *   w2 [L, dim, hidden] · w3 [L, hidden, dim] · rms_final [dim] ·
 *   freq_cis_real, freq_cis_imag [seq_len, headSize/2] (unused) · wcls [vocab, dim] if unshared
 *
 * Matrices are [out, in] row-major (run.c's matmul computes W·x), i.e. already PROTOCOL §3.5's
 * output-row layout. w1/w3/w2 are the gate/up/down projections.
 *
 * RoPE: llama2.c rotates interleaved pairs (2i, 2i+1) of each head by θ^(−2i/hd); the runtime
 * (PROTOCOL §4.2) rotates (i, i + hd/2), Hugging Face's rotate-half. Both use the same
 * frequency for the pair, so permuting each head's Wq and Wk rows — row 2i → i,
 * row 2i+1 → hd/2 + i, exactly Hugging Face's conversion of Meta checkpoints — gives the same
 * attention scores with no numeric change (q·k is invariant under a common permutation).
 */
export type Llama2cHeader = { dim: number; hiddenDim: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number; sharedClassifier: boolean };

/** What llama2.c's run.c hard-codes rather than storing in the header. */
export const LLAMA2C_NORM_EPS = 1e-5;
export const LLAMA2C_ROPE_THETA = 10000;
const HEADER_BYTES = 7 * 4;

export function parseLlama2cHeader(bytes: Uint8Array, file = "checkpoint"): Llama2cHeader {
  if (bytes.byteLength < HEADER_BYTES) throw new ModelPackageError(`${file} is too short for a llama2.c header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const [dim, hiddenDim, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from({ length: 7 }, (_, i) => v.getInt32(4 * i, true)) as [number, number, number, number, number, number, number];
  const h = { dim, hiddenDim, layers, heads, kvHeads, vocab: Math.abs(vocabSigned), seqLen, sharedClassifier: vocabSigned > 0 };
  if ([dim, hiddenDim, layers, heads, kvHeads, h.vocab, seqLen].some((x) => x <= 0 || x > 1 << 24)) {
    throw new ModelPackageError(`${file} is not a llama2.c checkpoint`, { details: `implausible header ${JSON.stringify(h)}; version-1+ exports (magic "ak42") are not supported, use the legacy export` });
  }
  if (dim % heads !== 0 || heads % kvHeads !== 0) throw new ModelPackageError(`${file}: dim ${dim} / heads ${heads} / kvHeads ${kvHeads} are inconsistent`);
  return h;
}

export function llama2cArchitecture(h: Llama2cHeader): Architecture {
  return {
    layers: h.layers,
    hidden: h.dim,
    heads: h.heads,
    kvHeads: h.kvHeads,
    ffn: h.hiddenDim,
    vocab: h.vocab,
    context: h.seqLen,
    normEpsBits: f32Bits(LLAMA2C_NORM_EPS),
    ropeTheta: LLAMA2C_ROPE_THETA,
  };
}

/** Byte offset and per-layer element count of each stored tensor, in file order. */
export function llama2cLayout(h: Llama2cHeader): { offsets: Record<string, number>; perLayer: Record<string, number>; totalBytes: number } {
  const hd = h.dim / h.heads;
  const kvDim = h.kvHeads * hd;
  const sizes: [string, number, number][] = [
    // name, elements per layer (or total for globals), layer count
    ["embedding", h.vocab * h.dim, 1],
    ["rms_att", h.dim, h.layers],
    ["wq", h.dim * h.dim, h.layers],
    ["wk", kvDim * h.dim, h.layers],
    ["wv", kvDim * h.dim, h.layers],
    ["wo", h.dim * h.dim, h.layers],
    ["rms_ffn", h.dim, h.layers],
    ["w1", h.hiddenDim * h.dim, h.layers],
    ["w2", h.dim * h.hiddenDim, h.layers],
    ["w3", h.hiddenDim * h.dim, h.layers],
    ["rms_final", h.dim, 1],
    ["freq_cis", h.seqLen * hd, 1], // real and imaginary halves, hd/2 each
    ["wcls", h.sharedClassifier ? 0 : h.vocab * h.dim, 1],
  ];
  const offsets: Record<string, number> = {};
  const perLayer: Record<string, number> = {};
  let at = HEADER_BYTES;
  for (const [name, n, count] of sizes) {
    offsets[name] = at;
    perLayer[name] = n;
    at += n * count * 4;
  }
  return { offsets, perLayer, totalBytes: at };
}

/**
 * Rows of one head-major projection reordered from interleaved RoPE pairs to rotate-half:
 * within each head of `hd` rows, output row i < hd/2 is input row 2i and row hd/2 + i is 2i + 1.
 */
export function permuteRopeRows(w: Uint16Array, heads: number, hd: number, rowLength: number): Uint16Array {
  const out = new Uint16Array(w.length);
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (const a of [0, 1]) {
        const from = (h * hd + 2 * i + a) * rowLength;
        const to = (h * hd + a * half + i) * rowLength;
        out.set(w.subarray(from, from + rowLength), to);
      }
    }
  }
  return out;
}

/** An open llama2.c checkpoint: header, architecture, and each committed tensor on demand. */
export class Llama2cCheckpoint {
  private constructor(
    readonly file: string,
    readonly header: Llama2cHeader,
    readonly architecture: Architecture,
    private readonly fh: FileHandle,
    private readonly layout: ReturnType<typeof llama2cLayout>,
  ) {}

  static async open(file: string): Promise<Llama2cCheckpoint> {
    let fh: FileHandle;
    try {
      fh = await open(file, "r");
    } catch (cause) {
      throw new ModelPackageError(`cannot open llama2.c checkpoint ${file}`, { cause });
    }
    try {
      const head = new Uint8Array(HEADER_BYTES);
      await fh.read(head, 0, HEADER_BYTES, 0);
      const header = parseLlama2cHeader(head, file);
      const layout = llama2cLayout(header);
      const { size } = await fh.stat();
      if (size !== layout.totalBytes) {
        throw new ModelPackageError(`${file} has ${size} bytes; a llama2.c checkpoint with this header has ${layout.totalBytes}`, { details: `header ${JSON.stringify(header)}` });
      }
      const arch = llama2cArchitecture(header);
      if ((arch.hidden / arch.heads) % 2 !== 0) throw new UnsupportedCheckpointError(`head size ${arch.hidden / arch.heads} is odd: RoPE needs pairs`);
      return new Llama2cCheckpoint(file, header, arch, fh, layout);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  async #read(name: string, layerIndex: number, label: string): Promise<Uint16Array> {
    const n = this.layout.perLayer[name]!;
    const bytes = new Uint8Array(n * 4);
    const { bytesRead } = await this.fh.read(bytes, 0, bytes.byteLength, this.layout.offsets[name]! + layerIndex * n * 4);
    if (bytesRead !== bytes.byteLength) throw new ModelPackageError(`${this.file}: short read of ${label}`);
    return toBinary16(label, "F32", bytes);
  }

  /** binary16 bits of a committed tensor (PROTOCOL §3.5) in output-row layout, Q/K rows permuted. */
  async tensor(spec: TensorSpec): Promise<Uint16Array> {
    const h = this.header;
    const hd = h.dim / h.heads;
    if (spec.layer === 0) {
      if (spec.kind === GlobalKind.embedding) return this.#read("embedding", 0, spec.name);
      if (spec.kind === GlobalKind.finalNorm) return this.#read("rms_final", 0, spec.name);
      return this.#read(h.sharedClassifier ? "embedding" : "wcls", 0, spec.name);
    }
    const i = spec.layer - 1;
    switch (spec.kind) {
      case BlockKind.attnNorm:
        return this.#read("rms_att", i, spec.name);
      case BlockKind.wq:
        return permuteRopeRows(await this.#read("wq", i, spec.name), h.heads, hd, h.dim);
      case BlockKind.wk:
        return permuteRopeRows(await this.#read("wk", i, spec.name), h.kvHeads, hd, h.dim);
      case BlockKind.wv:
        return this.#read("wv", i, spec.name);
      case BlockKind.wo:
        return this.#read("wo", i, spec.name);
      case BlockKind.mlpNorm:
        return this.#read("rms_ffn", i, spec.name);
      case BlockKind.wgate:
        return this.#read("w1", i, spec.name);
      case BlockKind.wup:
        return this.#read("w3", i, spec.name);
      case BlockKind.wdown:
        return this.#read("w2", i, spec.name);
      default:
        throw new RangeError(`no llama2.c tensor for ${spec.name}`);
    }
  }
}
