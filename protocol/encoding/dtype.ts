import { fromHalfArray, toHalfArray } from "./float16.js";

/** Element encodings of PROTOCOL §3.1 (the IModelRegistry.Encoding dtype codes). */
export const DTYPE_F16 = 1;
export const DTYPE_F32 = 2;
export type Dtype = typeof DTYPE_F16 | typeof DTYPE_F32;

export class DtypeError extends Error {
  override name = "DtypeError";
  constructor(
    message: string,
    readonly dtype: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function assertDtype(dtype: number): Dtype {
  if (dtype !== DTYPE_F16 && dtype !== DTYPE_F32) throw new DtypeError(`unknown dtype code ${dtype}`, dtype);
  return dtype;
}

/** Bytes per element. */
export function dtypeSize(dtype: Dtype): 2 | 4 {
  return dtype === DTYPE_F16 ? 2 : 4;
}

/** Typed array in the dtype's in-memory form (Uint16Array of binary16 bits or Float32Array). */
export type DtypeArray = Uint16Array | Float32Array;

/** Encode numbers in `dtype` (binary32 values are rounded to binary16 with round-to-nearest-even). */
export function encodeValues(dtype: Dtype, values: Float32Array): DtypeArray {
  return dtype === DTYPE_F16 ? toHalfArray(values) : Float32Array.from(values);
}

/** Decode an encoded array to Float32Array (exact for both dtypes). */
export function decodeValues(values: DtypeArray): Float32Array {
  return values instanceof Uint16Array ? fromHalfArray(values) : values;
}

/**
 * Little-endian byte view of an encoded array, without copying (PROTOCOL §3.1: the wire order
 * is the in-memory order of x86/ARM hosts). Big-endian hosts are rejected rather than mis-hashed.
 */
export function littleEndianBytes(values: DtypeArray): Uint8Array {
  if (!IS_LITTLE_ENDIAN) throw new DtypeError("big-endian hosts are not supported", 0);
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
