/**
 * IEEE 754 binary16 <-> number conversions, bit exact, round-to-nearest-even (PROTOCOL §3.1).
 * Written by hand rather than relying on Float16Array, which Node 22 only has behind a flag.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round a number to binary32 first (as every runtime does) and then to binary16 bits. */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  return f32BitsToHalfBits(u32[0]!);
}

/** binary32 bits -> binary16 bits with round-to-nearest-even; NaN stays NaN (quiet). */
export function f32BitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  // Unbiased exponent e; binary16 normal range is e in [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal: keep 10 mantissa bits, round the 13 dropped bits to nearest even.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h += 1; // may carry into exponent: correct (up to inf)
    return sign | h;
  }
  if (e < -25) return sign; // below half of the smallest subnormal: rounds to zero
  // Subnormal: value = m · 2^-24 with the implicit bit restored.
  const full = mant | 0x800000;
  const shift = -e - 14 + 13; // 14..24 bits dropped
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h += 1;
  return sign | h;
}

/** binary16 bits -> exact number value. */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Encode an array of numbers (or a Float32Array) as binary16 bits. */
export function toHalfArray(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  if (values instanceof Float32Array) {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToHalfBits(bits[i]!);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = floatToHalfBits(values[i]!);
  }
  return out;
}

/** Decode binary16 bits to Float32Array (every binary16 value is exact in binary32). */
export function fromHalfArray(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBitsToFloat(bits[i]!);
  return out;
}
