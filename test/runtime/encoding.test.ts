import { describe, expect, it } from "vitest";
import { chunkCount, chunkRange, chunkRowBytes, f32BitsToHalfBits, floatToHalfBits, fromHalfArray, halfBitsToFloat, toHalfArray } from "../../protocol/encoding/index.js";

/** Every finite binary16 value, ascending, with its bits: an independent oracle for rounding. */
const finite: { v: number; bits: number }[] = [];
for (let b = 0; b < 0x10000; b++) {
  const e = (b >> 10) & 0x1f;
  if (e !== 0x1f && b !== 0x8000) finite.push({ v: halfBitsToFloat(b), bits: b });
}
finite.sort((x, y) => x.v - y.v);

/** Nearest binary16 by search, ties to even mantissa, overflow per IEEE (≥ 65520 → inf). */
function oracle(x: number): number {
  if (Math.abs(x) >= 65520) return x > 0 ? 0x7c00 : 0xfc00;
  let lo = 0;
  let hi = finite.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (finite[mid]!.v <= x) lo = mid;
    else hi = mid;
  }
  const [a, b] = [finite[lo]!, finite[hi]!];
  const da = Math.abs(x - a.v);
  const db = Math.abs(b.v - x);
  const pick = da < db ? a : db < da ? b : (a.bits & 1) === 0 ? a : b;
  // Signed zero: keep the sign of x.
  if (pick.v === 0) return x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  return pick.bits;
}

describe("binary16 codec (PROTOCOL §3.1)", () => {
  it("decodes and re-encodes every non-NaN bit pattern exactly", () => {
    for (let b = 0; b < 0x10000; b++) {
      const v = halfBitsToFloat(b);
      if (Number.isNaN(v)) expect(Number.isNaN(halfBitsToFloat(floatToHalfBits(v)))).toBe(true);
      else expect(floatToHalfBits(v)).toBe(b);
    }
  });

  it("rounds random binary32 values to nearest, ties to even, like the search oracle", () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    let state = 12345;
    for (let i = 0; i < 20000; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      // Exponents concentrated around the binary16 range, including subnormals and overflow.
      u[0] = (state & 0x807fffff) | ((100 + (state % 48)) << 23);
      if (!Number.isFinite(f[0]!)) continue;
      expect(f32BitsToHalfBits(u[0]!), `x=${f[0]}`).toBe(oracle(f[0]!));
    }
  });

  it("breaks exact ties to the even neighbour", () => {
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 and 1+2^-10: even is 1
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(2 ** -25)).toBe(0); // half the smallest subnormal: ties to 0
    expect(floatToHalfBits(3 * 2 ** -25)).toBe(2);
    expect(floatToHalfBits(65520)).toBe(0x7c00);
    expect(floatToHalfBits(65519.99)).toBe(0x7bff);
  });

  it("array helpers agree with scalar ones", () => {
    const xs = Float32Array.from([0, -0, 1.5, -3.25e-6, 70000, 0.1]);
    const h = toHalfArray(xs);
    expect(Array.from(h)).toEqual(Array.from(xs, floatToHalfBits));
    expect(Array.from(fromHalfArray(h))).toEqual(Array.from(h, halfBitsToFloat));
  });
});

describe("chunking (PROTOCOL §3.1)", () => {
  it("splits rows into C-element chunks with a shorter last chunk", () => {
    expect(chunkCount(64, 32)).toBe(2);
    expect(chunkCount(65, 32)).toBe(3);
    expect(chunkRange(65, 32, 2)).toEqual({ start: 64, end: 65 });
    const row = new Uint8Array(130).map((_, i) => i);
    const chunks = chunkRowBytes(row, 2, 32);
    expect(chunks.map((c) => c.byteLength)).toEqual([64, 64, 2]);
    expect(Array.from(chunks[2]!)).toEqual([128, 129]);
    expect(() => chunkRange(65, 32, 3)).toThrow(RangeError);
    expect(() => chunkRowBytes(new Uint8Array(3), 2, 32)).toThrow(RangeError);
  });
});
