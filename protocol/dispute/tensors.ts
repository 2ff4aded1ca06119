/**
 * In-memory tensors with the committed layouts of PROTOCOL §3: row-major rows of encoded
 * elements (binary16 bits or binary32), chunked by C for leaves. Used by the step builder,
 * proof builders and tests; the runtime's model package and trace store expose the same data.
 */
import { decodeF16, decodeF32 } from "../evaluator/fixed.js";
import { floatToHalfBits } from "../encoding/index.js";

export type Dtype = 1 | 2;

/** A committed tensor: `rows × rowLength` elements, binary16 bits (dtype 1) or binary32 (dtype 2). */
export type EncodedTensor = {
  rows: number;
  rowLength: number;
  dtype: Dtype;
  /** dtype 1: Uint16Array of binary16 bits; dtype 2: Float32Array */
  data: Uint16Array | Float32Array;
};

/** IEEE binary16 bits of a number, round to nearest even: the runtime's codec (PROTOCOL §3.1). */
export const toHalfBits = floatToHalfBits;

/**
 * Exact value of binary16 bits, from a table filled once by the judge's own decoder (the same
 * values; a step of a real model decodes millions of weights, which one BigInt each made slow).
 */
let table: Float64Array | undefined;
function halfTable(): Float64Array {
  if (!table) {
    table = new Float64Array(65536);
    for (let b = 0; b < 65536; b++) table[b] = Number(decodeF16(b) ?? NaN) / 2 ** 48;
  }
  return table;
}
export const halfToNumber = (bits: number): number => halfTable()[bits & 0xffff]!;

export function encodeTensor(rows: number, rowLength: number, dtype: Dtype, values: ArrayLike<number>): EncodedTensor {
  if (values.length !== rows * rowLength) throw new RangeError(`expected ${rows * rowLength} values, got ${values.length}`);
  const data = dtype === 1 ? Uint16Array.from(values, toHalfBits) : Float32Array.from(values);
  return { rows, rowLength, dtype, data };
}

/** Element value as a JS number (binary16 and binary32 are exact in a double). */
export function valueAt(t: EncodedTensor, row: number, col: number): number {
  const v = t.data[row * t.rowLength + col]!;
  return t.dtype === 1 ? halfToNumber(v) : v;
}

/** Row `row` decoded to numbers, into `out` when given (a head step decodes 32,000+ rows: no allocation each). */
export function rowValues(t: EncodedTensor, row: number, out = new Float64Array(t.rowLength)): Float64Array {
  const base = row * t.rowLength;
  if (t.dtype === 1) {
    const lut = halfTable();
    for (let i = 0; i < t.rowLength; i++) out[i] = lut[t.data[base + i]!]!;
  } else for (let i = 0; i < t.rowLength; i++) out[i] = t.data[base + i]!;
  return out;
}

/** Little-endian bytes of chunk `chunk` of row `row` (PROTOCOL §3.1). */
export function chunkBytes(t: EncodedTensor, row: number, chunk: number, C: number): Uint8Array {
  const start = chunk * C;
  const end = Math.min(start + C, t.rowLength);
  if (row >= t.rows || start >= t.rowLength) throw new RangeError(`no chunk ${chunk} of row ${row}`);
  const base = row * t.rowLength;
  const slice = t.data.slice(base + start, base + end);
  // Typed arrays are little-endian on every platform Node runs on (x64, arm64).
  return new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength);
}

/** binary32 bits → Q48 or binary16 bits → Q48, for tests that compare with the judge. */
export const decodeBits = (dtype: Dtype, bits: number): bigint | undefined => (dtype === 1 ? decodeF16(bits) : decodeF32(bits));
