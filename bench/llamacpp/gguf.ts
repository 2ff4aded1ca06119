/**
 * A minimal GGUF (version 3) writer: typed metadata and F32 / F16 / Q8_0 tensors, little-endian,
 * tensor data aligned to 32 bytes — enough for llama.cpp to load a Llama model converted by
 * `./convert.ts`. Written from the GGUF specification (ggml's docs/gguf.md):
 *
 *   "GGUF" · u32 version (3) · u64 tensor count · u64 metadata count
 *   metadata: string key · u32 value type · value (arrays: u32 element type · u64 count · elements)
 *   tensor infos: string name · u32 dims · u64 ne[dims] (ne[0] = the contiguous dimension) ·
 *     u32 ggml type · u64 offset of its data from the start of the data section (aligned)
 *   padding to the alignment · tensor data
 *
 * Strings are u64 byte length then UTF-8 bytes, no terminator.
 */
import { open } from "node:fs/promises";

/** GGUF metadata value types. */
export const GgufType = { UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12 } as const;
/** The ggml tensor types written here. */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlTypeName = keyof typeof GgmlType;

export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;
/** Q8_0: blocks of 32 weights, each an f16 scale then 32 int8 (34 bytes). */
export const Q8_0_BLOCK = 32;
const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK;

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "f32[]"; value: ArrayLike<number> }
  | { type: "i32[]"; value: ArrayLike<number> };

export const u32 = (value: number): GgufValue => ({ type: "u32", value });
export const i32 = (value: number): GgufValue => ({ type: "i32", value });
export const f32 = (value: number): GgufValue => ({ type: "f32", value });
export const bool = (value: boolean): GgufValue => ({ type: "bool", value });
export const str = (value: string): GgufValue => ({ type: "string", value });

/**
 * One tensor: `shape` in ggml order (ne[0] first: a [rows, rowLength] row-major matrix is
 * `[rowLength, rows]`) and its already-encoded bytes (see `encodeTensor`).
 */
export type GgufTensor = { name: string; shape: readonly number[]; type: GgmlTypeName; data: Uint8Array };

/** Growable little-endian byte sink. */
class Sink {
  #buf = new Uint8Array(1 << 16);
  #view = new DataView(this.#buf.buffer);
  length = 0;
  #reserve(n: number): void {
    if (this.length + n <= this.#buf.byteLength) return;
    let size = this.#buf.byteLength * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(x: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.length, x);
    this.length += 1;
  }
  u32(x: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number): void {
    this.#reserve(4);
    this.#view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f32(x: number): void {
    this.#reserve(4);
    this.#view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number | bigint): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.#reserve(b.byteLength);
    this.#buf.set(b, this.length);
    this.length += b.byteLength;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  pad(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

function writeValue(s: Sink, v: GgufValue): void {
  switch (v.type) {
    case "u32":
      s.u32(GgufType.UINT32);
      return s.u32(v.value);
    case "i32":
      s.u32(GgufType.INT32);
      return s.i32(v.value);
    case "f32":
      s.u32(GgufType.FLOAT32);
      return s.f32(v.value);
    case "bool":
      s.u32(GgufType.BOOL);
      return s.u8(v.value ? 1 : 0);
    case "string":
      s.u32(GgufType.STRING);
      return s.string(v.value);
    case "string[]":
      s.u32(GgufType.ARRAY);
      s.u32(GgufType.STRING);
      s.u64(v.value.length);
      for (const x of v.value) s.string(x);
      return;
    case "f32[]":
      s.u32(GgufType.ARRAY);
      s.u32(GgufType.FLOAT32);
      s.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) s.f32(v.value[i]!);
      return;
    case "i32[]":
      s.u32(GgufType.ARRAY);
      s.u32(GgufType.INT32);
      s.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) s.i32(v.value[i]!);
      return;
  }
}

/** Bytes a tensor of `shape` and `type` occupies. */
export function tensorBytes(shape: readonly number[], type: GgmlTypeName): number {
  const n = shape.reduce((a, b) => a * b, 1);
  if (type === "F32") return 4 * n;
  if (type === "F16") return 2 * n;
  if (shape[0]! % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} elements, not ${shape[0]}`);
  return (n / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES;
}

/** The header, metadata and tensor infos (padded to the alignment): everything before the data. */
export function ggufHeader(metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: ReadonlyArray<Omit<GgufTensor, "data">>): { header: Uint8Array; offsets: number[] } {
  const s = new Sink();
  s.bytes(new TextEncoder().encode("GGUF"));
  s.u32(GGUF_VERSION);
  s.u64(tensors.length);
  s.u64(metadata.length);
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    if (keys.has(key)) throw new Error(`GGUF metadata key ${key} given twice`);
    keys.add(key);
    s.string(key);
    writeValue(s, value);
  }
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    s.string(t.name);
    s.u32(t.shape.length);
    for (const d of t.shape) s.u64(d);
    s.u32(GgmlType[t.type]);
    s.u64(at);
    offsets.push(at);
    at += tensorBytes(t.shape, t.type);
    at += (GGUF_ALIGNMENT - (at % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
  }
  s.pad(GGUF_ALIGNMENT);
  return { header: s.result(), offsets };
}

/** Write a GGUF file; tensors are written in the order given. Returns its size in bytes. */
export async function writeGguf(file: string, metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): Promise<number> {
  for (const t of tensors) {
    const want = tensorBytes(t.shape, t.type);
    if (t.data.byteLength !== want) throw new RangeError(`tensor ${t.name}: ${t.data.byteLength} bytes, ${t.type} ${JSON.stringify(t.shape)} needs ${want}`);
  }
  const { header, offsets } = ggufHeader(metadata, tensors);
  const fh = await open(file, "w");
  try {
    await fh.write(header, 0, header.byteLength, 0);
    for (const [i, t] of tensors.entries()) await fh.write(t.data, 0, t.data.byteLength, header.byteLength + offsets[i]!);
    const last = tensors.length - 1;
    const end = header.byteLength + (last < 0 ? 0 : offsets[last]! + tensors[last]!.data.byteLength);
    await fh.truncate(end);
    return end;
  } finally {
    await fh.close();
  }
}

/** IEEE binary16 bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → IEEE binary16 bits, round to nearest even (the conversion ggml's quantizer uses for its scales). */
export function floatToHalf(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is right, up to infinity
  return sign | half;
}

let halfTable: Float32Array | undefined;
/** binary16 bits → float32 values, through a table of all 65,536 halves. */
function widen(bits: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]!]!;
  return out;
}

/**
 * Encode `values` (row-major, rows of `rowLength`) as `type`. F16 input given as binary16 bits
 * (a Uint16Array) is copied bit for bit; everything else goes through float32.
 */
export function encodeTensor(values: Float32Array | Uint16Array, rowLength: number, type: GgmlTypeName): Uint8Array {
  const n = values.length;
  if (type === "F16") {
    const out = new Uint16Array(n);
    if (values instanceof Uint16Array) out.set(values);
    else for (let i = 0; i < n; i++) out[i] = floatToHalf(values[i]!);
    return new Uint8Array(out.buffer);
  }
  const floats = values instanceof Float32Array ? values : widen(values);
  const at = (i: number) => floats[i]!;
  if (type === "F32") return new Uint8Array(floats.slice().buffer);
  // Q8_0 per block of 32: d = max|x| / 127 (stored as f16), q = x / d rounded half away from zero (C's roundf).
  if (rowLength % Q8_0_BLOCK !== 0) throw new RangeError(`Q8_0 needs rows of a multiple of ${Q8_0_BLOCK} elements, not ${rowLength}`);
  const blocks = n / Q8_0_BLOCK;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < Q8_0_BLOCK; j++) amax = Math.max(amax, Math.abs(at(b * Q8_0_BLOCK + j)));
    const d = amax / 127;
    const inv = d ? 1 / d : 0;
    view.setUint16(b * Q8_0_BLOCK_BYTES, floatToHalf(d), true);
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const q = at(b * Q8_0_BLOCK + j) * inv;
      view.setInt8(b * Q8_0_BLOCK_BYTES + 2 + j, Math.sign(q) * Math.round(Math.abs(q)));
    }
  }
  return out;
}
