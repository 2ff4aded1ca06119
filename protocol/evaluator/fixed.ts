/**
 * Fixed-point arithmetic of the step-proof judge, PROTOCOL §6.3–§6.4: a line-by-line mirror of
 * contracts/libraries/FixedMath.sol. Values are bigint with 48 fractional bits ("Q48"),
 * non-linear functions work with 64 ("Q64"). BigInt `/` truncates toward zero and `>>`
 * rounds toward −∞ exactly like Solidity's int256, which is what makes the two bit-identical.
 */

export const FRAC = 48n;
export const ONE = 1n << 48n;
export const ONE64 = 1n << 64n;
/** floor(ln 2 · 2^64), floor(π · 2^64). */
export const LN2_Q64 = 0xb17217f7d1cf79abn;
export const PI_Q64 = 0x3243f6a8885a308d3n;
export const TWO_PI_Q64 = 2n * PI_Q64;
export const EXP_MAX = 32n << 48n;
export const EXP_MIN = -(40n << 48n);
const EXP_TERMS = 18n;
const TRIG_TERMS = 17n;

/** A decoded value, or `undefined` for a value the protocol rejects (Inf, NaN, |v| ≥ 2^64). */
export type Decoded = bigint | undefined;

/** binary16 bits → Q48, exact. */
export function decodeF16(bits: number): Decoded {
  const e = (bits >> 10) & 31;
  const m = BigInt(bits & 1023);
  if (e === 31) return undefined;
  const mag = e === 0 ? m << 24n : (m | 1024n) << BigInt(e + 23);
  return (bits & 0x8000) !== 0 ? -mag : mag;
}

/** binary32 bits → Q48, magnitude truncated toward zero below 2^-48. */
export function decodeF32(bits: number): Decoded {
  const e = (bits >>> 23) & 255;
  if (e >= 191) return undefined;
  let mag = 0n;
  if (e !== 0) {
    const full = BigInt((bits & 0x7fffff) | 0x800000);
    mag = e >= 102 ? full << BigInt(e - 102) : full >> BigInt(102 - e);
  }
  return (bits & 0x80000000) !== 0 ? -mag : mag;
}

/** Element `i` of a little-endian chunk; dtype 1 = binary16, 2 = binary32. */
export function elementAt(chunk: Uint8Array, dtype: 1 | 2, i: number): Decoded {
  if (dtype === 1) return decodeF16(chunk[2 * i]! | (chunk[2 * i + 1]! << 8));
  const o = 4 * i;
  return decodeF32((chunk[o]! | (chunk[o + 1]! << 8) | (chunk[o + 2]! << 16) | (chunk[o + 3]! << 24)) >>> 0);
}

/** Truncating division, as Solidity's int256 `/` (BigInt already truncates; named for clarity). */
const div = (a: bigint, b: bigint): bigint => a / b;

export function expQ64(x: bigint): bigint {
  const k = x >= 0n ? div(x + LN2_Q64 / 2n, LN2_Q64) : -div(-x + LN2_Q64 / 2n, LN2_Q64);
  const r = x - k * LN2_Q64;
  let sum = ONE64;
  let term = ONE64;
  for (let i = 1n; i <= EXP_TERMS; i++) {
    term = div(term * r, i * ONE64);
    sum += term;
  }
  return k >= 0n ? sum << k : sum >> -k;
}

/** e^x in Q48; `undefined` above EXP_MAX, 0 below EXP_MIN. */
export function expQ48(x: bigint): Decoded {
  if (x > EXP_MAX) return undefined;
  if (x < EXP_MIN) return 0n;
  return expQ64(x << 16n) >> 16n;
}

/** floor(√n) for n ≥ 0 (OpenZeppelin Math.sqrt rounds down too). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError("isqrt of a negative number");
  if (n < 2n) return n;
  let x = 1n << BigInt((n.toString(2).length + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function rsqrtQ48(y: bigint): bigint {
  return isqrt((1n << 144n) / y);
}

export function invSqrtIntQ48(n: bigint): bigint {
  return isqrt((1n << 96n) / n);
}

export function lnIntQ64(b: bigint): bigint {
  const n = BigInt(b.toString(2).length - 1);
  let y = (b << 64n) >> n;
  let frac = 0n;
  for (let i = 0n; i < 64n; i++) {
    y = (y * y) >> 64n;
    if (y >= 2n << 64n) {
      y >>= 1n;
      frac |= 1n << (63n - i);
    }
  }
  return (((n << 64n) + frac) * LN2_Q64) >> 64n;
}

/** Gumbel noise of PROTOCOL §6.4: w < 2^53 is one draw's top 53 bits; the series branch takes w ≥ 2^52. */
export const W53 = 1n << 53n;
const GUMBEL_TERMS = 20n;

/** g = −ln(−ln u), u = (2w + 1) / 2^54, in Q48 (FixedMath.gumbelQ48): x = −ln u in Q127, then 127·ln2 − ln X. */
export function gumbelQ48(w: bigint): bigint {
  if (w < 0n || w >= W53) throw new RangeError("gumbelQ48 takes w in [0, 2^53)");
  const b = 2n * w + 1n;
  let x: bigint;
  if (w < W53 >> 1n) {
    x = (54n * LN2_Q64 - lnIntQ64(b)) << 63n;
  } else {
    const m = (1n << 54n) - b;
    const s = (m << 127n) / ((1n << 55n) - m);
    const s2 = (s * s) >> 127n;
    let term = s;
    let sum = s;
    for (let k = 1n; k <= GUMBEL_TERMS; k++) {
      term = (term * s2) >> 127n;
      sum += term / (2n * k + 1n);
    }
    x = sum << 1n;
  }
  return (127n * LN2_Q64 - lnIntQ64(x)) >> 16n;
}

export function ropeInvFreqQ64(base: bigint, k: bigint, hd: bigint): bigint {
  const arg = div(2n * k * lnIntQ64(base), hd);
  return expQ64(-arg);
}

export function cosSinQ64(angle: bigint): { c: bigint; s: bigint } {
  let a = angle % TWO_PI_Q64;
  if (a > PI_Q64) a -= TWO_PI_Q64;
  const a2 = (a * a) >> 64n;
  let ts = a;
  let tc = ONE64;
  let s = a;
  let c = ONE64;
  for (let i = 1n; i <= TRIG_TERMS; i++) {
    ts = div(-((ts * a2) >> 64n), 2n * i * (2n * i + 1n));
    tc = div(-((tc * a2) >> 64n), (2n * i - 1n) * (2n * i));
    s += ts;
    c += tc;
  }
  return { c, s };
}

export function siluQ48(g: bigint): bigint {
  const a = g >= 0n ? g : -g;
  const e = expQ48(-a) ?? 0n;
  const sa = div(ONE * ONE, ONE + e);
  const sig = g >= 0n ? sa : ONE - sa;
  return (g * sig) >> 48n;
}

export const abs = (x: bigint): bigint => (x >= 0n ? x : -x);

/** PROTOCOL §6.1: |claimed − ref| ≤ atol + rtol·mag (atol, rtol Q32.32; the rest Q48). */
export function within(
  claimed: bigint,
  ref: bigint,
  mag: bigint,
  atol: bigint,
  rtol: bigint,
): { ok: boolean; bound: bigint } {
  const bound = (atol << 16n) + ((rtol * mag) >> 32n);
  return { ok: abs(claimed - ref) <= bound, bound };
}

/** Q48 → JS number (for diagnostics and float-side code, never for judging). */
export const toNumber = (q: bigint): number => Number(q) / 2 ** 48;
