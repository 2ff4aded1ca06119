/**
 * Reference values of the step operations, PROTOCOL §6.2: mirror of contracts/dispute/StepOps.sol.
 * Each returns the exact Q48 reference and the tolerance magnitude; `undefined` marks a
 * prover value outside the operation's domain (which the contract treats as proven fraud).
 */
import * as fx from "./fixed.js";
import { noiseWord, viemKeccak256, type Keccak256 } from "../sampling/rule.js";

export type RefMag = { ref: bigint; mag: bigint };

/** One reduction chunk. mode 0: Σ a·b; 1: Σ a²; 2: Σ a. `bad` 1/2 names the side with an invalid value. */
export function dot(
  a: Uint8Array,
  dta: 1 | 2,
  b: Uint8Array,
  dtb: 1 | 2,
  n: number,
  mode: 0 | 1 | 2,
): RefMag & { bad: 0 | 1 | 2 } {
  let acc = 0n;
  let accAbs = 0n;
  for (let i = 0; i < n; i++) {
    const x = fx.elementAt(a, dta, i);
    if (x === undefined) return { ref: 0n, mag: 0n, bad: 1 };
    let p: bigint;
    if (mode === 1) p = x * x;
    else if (mode === 2) p = x << 48n;
    else {
      const y = fx.elementAt(b, dtb, i);
      if (y === undefined) return { ref: 0n, mag: 0n, bad: 2 };
      p = x * y;
    }
    acc += p;
    accAbs += fx.abs(p);
  }
  return { ref: acc >> 48n, mag: accAbs >> 48n, bad: 0 };
}

export function sum(a: Uint8Array, dt: 1 | 2, n: number): { acc: bigint; accAbs: bigint } | undefined {
  let acc = 0n;
  let accAbs = 0n;
  for (let i = 0; i < n; i++) {
    const v = fx.elementAt(a, dt, i);
    if (v === undefined) return undefined;
    acc += v;
    accAbs += fx.abs(v);
  }
  return { acc, accAbs };
}

export function rsqrt(ss: bigint, d: bigint, eps: bigint): RefMag | undefined {
  const y = ss / d + eps;
  if (y <= 0n) return undefined;
  const ref = fx.rsqrtQ48(y);
  return { ref, mag: ref };
}

export function normScale(x: bigint, g: bigint, r: bigint): RefMag {
  const ref = (((x * g) >> 48n) * r) >> 48n;
  return { ref, mag: fx.abs(ref) };
}

export function rope(x: bigint, y: bigint, pos: bigint, i: bigint, hd: bigint, theta: bigint): RefMag {
  const half = hd / 2n;
  return ropeWithInvFreq(x, y, pos, i, hd, fx.ropeInvFreqQ64(theta, i < half ? i : i - half, hd));
}

/** ROPE with the pair's inverse frequency given in Q64 (a committed one, PROTOCOL §6.4). */
export function ropeWithInvFreq(x: bigint, y: bigint, pos: bigint, i: bigint, hd: bigint, invFreqQ64: bigint): RefMag {
  const half = hd / 2n;
  const angle = pos * invFreqQ64;
  const { c, s } = fx.cosSinQ64(angle);
  const ref = i < half ? (x * c - y * s) >> 64n : (x * c + y * s) >> 64n;
  return { ref, mag: fx.abs(x) + fx.abs(y) };
}

export function scoreSum(acc: bigint, accAbs: bigint, hd: bigint): RefMag {
  const inv = fx.invSqrtIntQ48(hd);
  return { ref: (acc * inv) >> 48n, mag: (accAbs * inv) >> 48n };
}

export function softmaxExp(s: bigint, m: bigint): RefMag | undefined {
  const e = fx.expQ48(s - m);
  return e === undefined ? undefined : { ref: e, mag: fx.abs(e) };
}

export function attnSum(acc: bigint, accAbs: bigint, z: bigint): RefMag {
  return { ref: (acc * fx.ONE) / z, mag: (accAbs << 48n) / z };
}

export function add(a: bigint, b: bigint): RefMag {
  return { ref: a + b, mag: fx.abs(a) + fx.abs(b) };
}

/**
 * HEAD_ARGMAX, one-sided: fraud iff score[j] − score[tok] > atol + rtol·(|z[j]| + |z[tok]|),
 * score = z (greedy) or z + τ·g (sampled).
 */
export function argmax(zj: bigint, ztok: bigint, sj: bigint, stok: bigint, atol: bigint, rtol: bigint): { fraud: boolean; bound: bigint } {
  const { bound } = fx.within(0n, 0n, fx.abs(zj) + fx.abs(ztok), atol, rtol);
  return { fraud: sj - stok > bound, bound };
}

/** StepOps.samplingRule: τ in Q48 (0 = greedy) and the seed; `ok` false for top-k ∉ {0, 1}. */
export function samplingRule(params: bigint): { tau: bigint; seed: bigint; ok: boolean } {
  const bits = params & 0xffffffffn;
  const k = (params >> 32n) & 0xffffffffn;
  const seed = (params >> 64n) & 0xffffffffffffffffn;
  const sampled = bits !== 0n && bits < 0x7f800000n && k !== 1n;
  if (!sampled) return { tau: 0n, seed, ok: true };
  if (k !== 0n) return { tau: 0n, seed, ok: false };
  const tau = fx.decodeF32(Number(bits));
  return { tau: tau ?? 0n, seed, ok: tau !== undefined };
}

/** StepOps.score: z + (τ · gumbelQ48(noiseWord)) >> 48, or z when τ = 0. */
export function score(z: bigint, tau: bigint, seed: bigint, p: number, v: number, keccak: Keccak256 = viemKeccak256): bigint {
  if (tau === 0n) return z;
  return z + ((tau * fx.gumbelQ48(noiseWord(seed, p, v, keccak))) >> 48n);
}

export function swiglu(g: bigint, u: bigint): RefMag {
  const ref = (fx.siluQ48(g) * u) >> 48n;
  return { ref, mag: fx.abs(ref) };
}

/**
 * LAYER_OUT_ERR_PARTIAL: Σ (h − x − y)² (errRow) or Σ (x + y)² over n elements, exact in Q96,
 * returned in Q48. x, y binary32 (X1, Y_D); h a trace chunk. `bad` 1/2/3 names h/x/y, checked
 * in the contract's order (x, y, then h) per element.
 */
export function rowErr(h: Uint8Array, hDtype: 1 | 2, x: Uint8Array, y: Uint8Array, n: number, errRow: boolean): { ref: bigint; bad: 0 | 1 | 2 | 3 } {
  let acc = 0n;
  for (let i = 0; i < n; i++) {
    const xv = fx.elementAt(x, 2, i);
    if (xv === undefined) return { ref: 0n, bad: 2 };
    const yv = fx.elementAt(y, 2, i);
    if (yv === undefined) return { ref: 0n, bad: 3 };
    let e = xv + yv;
    if (errRow) {
      const hv = fx.elementAt(h, hDtype, i);
      if (hv === undefined) return { ref: 0n, bad: 1 };
      e = hv - e;
    }
    acc += e * e;
  }
  return { ref: acc >> 48n, bad: 0 };
}
