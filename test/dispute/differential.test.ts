/**
 * Differential tests, TypeScript evaluator vs EVM (PROTOCOL §6.3–§6.4): for every operation,
 * ≥ 10,000 random cases through contracts/mocks/dispute/StepOpsHarness.sol (the same StepOps
 * and FixedMath code the judge runs) and protocol/evaluator/ops.ts must give identical integers.
 * binary16 decoding is checked exhaustively.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { bytesToHex, type Hex } from "viem";
import * as fx from "../../protocol/evaluator/fixed.js";
import * as ops from "../../protocol/evaluator/ops.js";
import { gaussian, rng, f32Bits } from "../../protocol/dispute/synthetic.js";

const CASES = 10_000;
type Harness = Awaited<ReturnType<typeof deploy>>;
async function deploy() {
  const { viem } = await network.create();
  return viem.deployContract("StepOpsHarness");
}

const r = rng(0xd1ff);
const g = gaussian(r);
const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** binary32 bits: mostly realistic magnitudes, some extreme exponents, zeros, subnormals, invalid. */
function f32Pattern(opts: { invalid?: boolean; scale?: number } = {}): number {
  const u = r();
  if (u < 0.6) return f32Bits(g() * (opts.scale ?? 1) * 2 ** int(-12, 8));
  if (u < 0.85) return ((r() < 0.5 ? 0x80000000 : 0) | (int(60, 150) << 23) | int(0, 0x7fffff)) >>> 0;
  if (u < 0.95) return r() < 0.5 ? 0 : int(1, 0x7fffff); // zero, subnormal
  return opts.invalid ? ((int(191, 255) << 23) | int(0, 0x7fffff)) >>> 0 : f32Bits(g());
}
const f16Pattern = (opts: { invalid?: boolean } = {}): number => {
  const b = int(0, 0xffff);
  return !opts.invalid && ((b >> 10) & 31) === 31 ? b & 0x83ff : b;
};
const q48 = (bits: number): bigint => fx.decodeF32(bits) ?? 0n;

function chunk(dtype: 1 | 2, n: number, opts: { invalid?: boolean; scale?: number } = {}): Uint8Array {
  if (dtype === 1) return new Uint8Array(Uint16Array.from({ length: n }, () => f16Pattern(opts)).buffer);
  return new Uint8Array(Uint32Array.from({ length: n }, () => f32Pattern(opts)).buffer);
}

async function inBatches<T>(n: number, size: number, run: (from: number, to: number) => Promise<T>): Promise<void> {
  for (let from = 0; from < n; from += size) await run(from, Math.min(n, from + size));
}

describe("TypeScript evaluator vs EVM, bit-identical", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await deploy();
  });

  it("binary16 decoding: all 65,536 patterns", async () => {
    await inBatches(65536, 8192, async (from, to) => {
      const bits = Array.from({ length: to - from }, (_, i) => BigInt(from + i));
      const [v, ok] = await h.read.decodeBatch([bits, 1]);
      bits.forEach((b, i) => {
        const ts = fx.decodeF16(Number(b));
        expect(ok[i]).toBe(ts !== undefined);
        expect(v[i]).toBe(ts ?? 0n);
      });
    });
  });

  it(`binary32 decoding: ${2 * CASES} random patterns`, async () => {
    await inBatches(2 * CASES, 4000, async (from, to) => {
      const bits = Array.from({ length: to - from }, () => f32Pattern({ invalid: true }));
      const [v, ok] = await h.read.decodeBatch([bits.map(BigInt), 2]);
      bits.forEach((b, i) => {
        const ts = fx.decodeF32(b);
        expect(ok[i]).toBe(ts !== undefined);
        expect(v[i]).toBe(ts ?? 0n);
      });
    });
  });

  // Reduction chunks: [name, dtype a, dtype b, mode, value scale of b]
  const dots: [string, 1 | 2, 1 | 2, 0 | 1 | 2][] = [
    ["NORM_SUMSQ fp16 trace", 1, 1, 1],
    ["NORM_SUMSQ fp32 trace/step", 2, 2, 1],
    ["MATMUL_PARTIAL fp16 weights · fp32 step", 1, 2, 0],
    ["MATMUL_PARTIAL fp32 weights · fp32 step", 2, 2, 0],
    ["SCORE_PARTIAL / ATTN_PARTIAL fp32 · fp32", 2, 2, 0],
    ["SOFTMAX_SUM_PARTIAL", 2, 2, 2],
  ];
  for (const [name, dta, dtb, mode] of dots) {
    it(`${name}: ${CASES} chunks`, async () => {
      await inBatches(CASES, 500, async (from, to) => {
        const cases = Array.from({ length: to - from }, () => {
          const n = int(1, 16);
          const invalid = r() < 0.02;
          return { n, a: chunk(dta, n, { invalid }), b: chunk(dtb, n, { invalid: !invalid && r() < 0.02 }) };
        });
        const spec = (BigInt(dta) | (BigInt(dtb) << 8n) | (BigInt(mode) << 16n));
        const [ref, mag, bad] = await h.read.dotBatch([
          cases.map((c) => bytesToHex(c.a)),
          cases.map((c) => bytesToHex(c.b)),
          cases.map((c) => BigInt(c.n)),
          cases.map(() => spec),
        ]);
        cases.forEach((c, i) => {
          const ts = ops.dot(c.a, dta, c.b, dtb, c.n, mode);
          expect([ref[i], mag[i], Number(bad[i])]).toEqual([ts.ref, ts.mag, ts.bad]);
        });
      });
    });
  }

  for (const [hDtype, errRow] of [[1, true], [2, true], [1, false]] as const) {
    it(`LAYER_OUT_ERR_PARTIAL trace dtype ${hDtype}, ${errRow ? "error" : "magnitude"} row: ${CASES} chunks`, async () => {
      await inBatches(CASES, 200, async (from, to) => {
        const cases = Array.from({ length: to - from }, () => {
          const n = int(1, 16);
          const invalid = () => r() < 0.01;
          return { n, h: chunk(hDtype, n, { invalid: invalid() }), x: chunk(2, n, { invalid: invalid() }), y: chunk(2, n, { invalid: invalid() }) };
        });
        const opening = (b: Uint8Array) => ({ chunk: bytesToHex(b), proof: [] as Hex[] });
        const [ref, bad] = await h.read.rowErrBatch([
          cases.map((c) => [opening(new Uint8Array()), opening(c.h), opening(c.x), opening(c.y)]),
          cases.map((c) => BigInt(c.n) | (BigInt(hDtype) << 32n) | ((errRow ? 1n : 0n) << 40n)),
        ]);
        cases.forEach((c, i) => {
          const ts = ops.rowErr(c.h, hDtype, c.x, c.y, c.n, errRow);
          expect([ref[i], Number(bad[i])]).toEqual([ts.ref, ts.bad]);
        });
      });
    });
  }

  for (const name of ["MATMUL_SUM", "SOFTMAX_SUM"]) {
    it(`${name} (partials row sums): ${CASES} rows`, async () => {
      await inBatches(CASES, 500, async (from, to) => {
        const cases = Array.from({ length: to - from }, () => {
          const n = int(1, 16);
          return { n, a: chunk(2, n, { invalid: r() < 0.02 }) };
        });
        const [acc, accAbs, ok] = await h.read.sumBatch([cases.map((c) => bytesToHex(c.a)), 2, cases.map((c) => BigInt(c.n))]);
        cases.forEach((c, i) => {
          const ts = ops.sum(c.a, 2, c.n);
          expect(ok[i]).toBe(ts !== undefined);
          expect([acc[i], accAbs[i]]).toEqual([ts?.acc ?? 0n, ts?.accAbs ?? 0n]);
        });
      });
    });
  }

  /** [name, kind, generator of (a, b, c), TS op] */
  const real = (scale: number) => q48(f32Bits(g() * scale));
  const elementwise: [string, number, () => [bigint, bigint, bigint], (a: bigint, b: bigint, c: bigint) => { ref: bigint; mag: bigint } | undefined][] = [
    ["NORM_RSQRT", 0, () => [r() < 0.02 ? -real(10) : fx.abs(real(1e4)) * BigInt(int(1, 64)), BigInt([32, 4096, 8192, 16384][int(0, 3)]!), q48(f32Bits([1e-5, 1e-6, 0][int(0, 2)]!))], (a, b, c) => ops.rsqrt(a, b, c)],
    ["NORM_SCALE", 1, () => [real(100), real(1), fx.abs(real(10))], ops.normScale],
    ["SCORE_SUM", 2, () => { const s = real(50); return [s, fx.abs(s) + fx.abs(real(50)), BigInt([64, 80, 128, 256][int(0, 3)]!)]; }, ops.scoreSum],
    ["SOFTMAX_EXP", 3, () => [BigInt(Math.round((r() * 100 - 70) * 2 ** 40)) << 8n, r() < 0.5 ? 0n : real(5), 0n], (a, b) => ops.softmaxExp(a, b)],
    ["ATTN_SUM", 4, () => { const s = real(20); return [s, fx.abs(s) + fx.abs(real(20)), fx.abs(real(100)) + 1n]; }, ops.attnSum],
    ["RESIDUAL", 5, () => [real(100), real(10), 0n], (a, b) => ops.add(a, b)],
    ["LAYER_OUT", 5, () => [real(1000), real(100), 0n], (a, b) => ops.add(a, b)],
    ["SWIGLU", 6, () => [r() < 0.1 ? real(1e3) : real(4), real(4), 0n], (a, b) => ops.swiglu(a, b)],
  ];
  for (const [name, kind, gen, tsOp] of elementwise) {
    it(`${name}: ${CASES} cases`, async () => {
      await inBatches(CASES, 1000, async (from, to) => {
        const cases = Array.from({ length: to - from }, gen);
        const [ref, mag, ok] = await h.read.opBatch([BigInt(kind), cases.map((c) => c[0]), cases.map((c) => c[1]), cases.map((c) => c[2])]);
        cases.forEach((c, i) => {
          const ts = tsOp(c[0], c[1], c[2]);
          expect(ok[i]).toBe(ts !== undefined);
          expect([ref[i], mag[i]]).toEqual([ts?.ref ?? 0n, ts?.mag ?? 0n]);
        });
      });
    });
  }

  it(`ROPE: ${CASES} cases up to position 128k`, async () => {
    await inBatches(CASES, 250, async (from, to) => {
      const cases = Array.from({ length: to - from }, () => {
        const hd = [64, 128][int(0, 1)]!;
        return { x: real(4), y: real(4), pos: BigInt(int(0, 131072)), i: BigInt(int(0, hd - 1)), hd: BigInt(hd), theta: BigInt([10000, 500000][int(0, 1)]!) };
      });
      const [ref, mag] = await h.read.ropeBatch([
        cases.map((c) => c.x),
        cases.map((c) => c.y),
        cases.map((c) => c.pos | (c.i << 64n) | (c.hd << 128n) | (c.theta << 192n)),
      ]);
      cases.forEach((c, i) => {
        const ts = ops.rope(c.x, c.y, c.pos, c.i, c.hd, c.theta);
        expect([ref[i], mag[i]]).toEqual([ts.ref, ts.mag]);
      });
    });
  });

  it(`ROPE with committed inverse frequencies (scaled RoPE): ${CASES} cases up to position 128k`, async () => {
    await inBatches(CASES, 250, async (from, to) => {
      const cases = Array.from({ length: to - from }, () => {
        const hd = [64, 128][int(0, 1)]!;
        // A binary32 frequency as committed (1 down to ~1e-8, Llama-3.1's scaled low end), in Q64.
        const f = (fx.decodeF32(f32Bits(2 ** (-27 * r()) * (1 + r()))) ?? 0n) << 16n;
        return { x: real(4), y: real(4), pos: BigInt(int(0, 131072)), i: BigInt(int(0, hd - 1)), hd: BigInt(hd), f };
      });
      const [ref, mag] = await h.read.ropeWithInvFreqBatch([cases.map((c) => c.x), cases.map((c) => c.y), cases.map((c) => c.pos | (c.i << 64n) | (c.hd << 128n)), cases.map((c) => c.f)]);
      cases.forEach((c, i) => {
        const ts = ops.ropeWithInvFreq(c.x, c.y, c.pos, c.i, c.hd, c.f);
        expect([ref[i], mag[i]]).toEqual([ts.ref, ts.mag]);
      });
    });
  });

  it(`HEAD_ARGMAX (greedy scores): ${CASES} cases`, async () => {
    await inBatches(CASES, 2000, async (from, to) => {
      const cases = Array.from({ length: to - from }, () => {
        const lnext = real(10);
        const atol = BigInt(int(0, 2 ** 24));
        const rtol = BigInt(int(0, 2 ** 28));
        const bound = Number((atol << 16n) + ((rtol * (fx.abs(lnext) * 2n)) >> 32n));
        return { lj: lnext + BigInt(Math.round((r() * 2 - 1) * 2 * bound)) + BigInt(int(-1, 1)), lnext, atol, rtol };
      });
      // Greedy scores are the logits themselves (sampled scores: sampling.differential.test.ts).
      const [fraud, bound] = await h.read.argmaxBatch([cases.map((c) => c.lj), cases.map((c) => c.lnext), cases.map((c) => c.lj), cases.map((c) => c.lnext), cases.map((c) => c.atol), cases.map((c) => c.rtol)]);
      cases.forEach((c, i) => {
        const ts = ops.argmax(c.lj, c.lnext, c.lj, c.lnext, c.atol, c.rtol);
        expect([fraud[i], bound[i]]).toEqual([ts.fraud, ts.bound]);
      });
    });
  });

  it(`tolerance rule (EMBED and every verdict): ${2 * CASES} cases`, async () => {
    await inBatches(2 * CASES, 2000, async (from, to) => {
      const cases = Array.from({ length: to - from }, () => {
        const ref = real(100);
        const mag = fx.abs(ref) + fx.abs(real(10));
        const atol = BigInt(int(0, 2 ** 24));
        const rtol = BigInt(int(0, 2 ** 28));
        const bound = Number((atol << 16n) + ((rtol * mag) >> 32n));
        // Claims straddling the bound, so both verdicts occur.
        const claimed = ref + BigInt(Math.round((r() * 2 - 1) * 2 * bound)) + BigInt(int(-1, 1));
        return { claimed, ref, mag, atol, rtol };
      });
      const [ok, bound] = await h.read.withinBatch([
        cases.map((c) => c.claimed),
        cases.map((c) => c.ref),
        cases.map((c) => c.mag),
        cases.map((c) => c.atol),
        cases.map((c) => c.rtol),
      ]);
      cases.forEach((c, i) => {
        const ts = fx.within(c.claimed, c.ref, c.mag, c.atol, c.rtol);
        expect([ok[i], bound[i]]).toEqual([ts.ok, ts.bound]);
      });
    });
  });
});
export type { Hex };
