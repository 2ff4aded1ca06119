/**
 * The one-step judge in TypeScript, bit-identical to contracts/dispute/StepJudge.sol
 * (PROTOCOL §7.4): which leaves a claim opens (`planOpenings`, the order the contract expects)
 * and the verdict the contract will reach (`judgeClaim`), so a challenger knows before paying
 * gas whether a proof wins, and a prover can check its own step root.
 */
import * as fx from "./fixed.js";
import * as ops from "./ops.js";
import { T, W, TOKEN_TENSOR_ID, ceilDiv, dimsOf, hasQkvBias, isBinary32Weights, opOf, ropeBase, shape, type Dims, type OpCode } from "./layout.js";

export const SRC_TRACE = 0;
export const SRC_WEIGHTS = 1;
export const SRC_STEP = 2;
export type Src = typeof SRC_TRACE | typeof SRC_WEIGHTS | typeof SRC_STEP;

/** One leaf: chunk `chunk` of row `row` of `tensor` in the source's tree; rows have `rowLen` elements. */
export type Loc = { src: Src; tensor: number; row: number; chunk: number; rowLen: number };
export type Claim = { tensor: number; row: number; col: number };

export type JudgeContext = {
  position: number;
  layer: number;
  /** L; layer L + 1 is the head step */
  layers: number;
  /** prompt length: the head step judges only sampled positions (t + 1 ≥ inputTokens) */
  inputTokens: number;
  /** the job's sampling rule; its seed keys the Gumbel noise (PROTOCOL §4.4) */
  samplingParams: bigint;
  traceDtype: 1 | 2;
  weightsDtype: 1 | 2;
  chunkSize: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  normEpsBits: number;
  /** RoPE base and variant bits (PROTOCOL §2.1: layout.ts ropeBase, hasQkvBias) */
  ropeTheta: number;
  /** tolerance of the claim's op, Q32.32 */
  atol: bigint;
  rtol: bigint;
};

export type Verdict = {
  fraud: boolean;
  op: OpCode;
  claimed: bigint;
  ref: bigint;
  bound: bigint;
  /** set when fraud is a malformed prover commitment rather than a tolerance violation */
  malformed?: Loc;
};

export class JudgeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JudgeError";
  }
}

/** A prover-committed chunk is malformed: the contract counts this as proven fraud. */
export class ProverMalformedError extends JudgeError {
  constructor(readonly loc: Loc) {
    super(`malformed prover commitment at src ${loc.src} tensor ${loc.tensor} row ${loc.row} chunk ${loc.chunk}`);
    this.name = "ProverMalformedError";
  }
}

const STEP_DTYPE = 2 as const;
const L = (src: Src, tensor: number, row: number, chunk: number, rowLen: number): Loc => ({ src, tensor, row, chunk, rowLen });

function dims(ctx: JudgeContext): Dims {
  return dimsOf(ctx, ctx.position, ctx.chunkSize);
}

/** Leaves of a whole partials row (ceil(n/C) chunks). */
function rowLocs(m: Dims, tensor: number, row: number, n: number): Loc[] {
  return Array.from({ length: ceilDiv(n, m.C) }, (_, c) => L(SRC_STEP, tensor, row, c, n));
}

/** The leaves a claim must open, in the contract's order: [claimed, inputs...]. */
export function planOpenings(ctx: JudgeContext, q: Claim): Loc[] {
  const m = dims(ctx);
  const { C } = m;
  const t = ctx.position;
  const l = ctx.layer;
  const l8 = l * 256;
  const [rows, len] = shape(m, q.tensor);
  opOf(q.tensor, l, ctx.layers);
  const head = l === ctx.layers + 1;
  if (q.row >= rows || q.col >= len) throw new JudgeError(`invalid claim ${JSON.stringify(q)}`);
  // The head step normalizes position t only.
  if (l === ctx.layers + 1 && (((q.tensor === T.SS1_PART || q.tensor === T.N1) && q.row !== t) || (q.tensor === T.R1 && q.col !== t))) {
    throw new JudgeError(`invalid head-step claim ${JSON.stringify(q)}`);
  }
  const at = (src: Src, tensor: number, row: number, col: number, rowLen: number) => L(src, tensor, row, Math.floor(col / C), rowLen);
  const biasLoc = (tensor: number, col: number, rowLen: number): Loc[] => (hasQkvBias(ctx.ropeTheta) ? [at(SRC_WEIGHTS, tensor, 0, col, rowLen)] : []);
  // LAYER_OUT_ROW opens two whole partials rows and has no separate claimed chunk.
  if (q.tensor === T.OUT_ROW) return [...rowLocs(m, T.OUT_ERR_PART, 0, ceilDiv(m.d, C)), ...rowLocs(m, T.OUT_ERR_PART, 1, ceilDiv(m.d, C))];
  const claimed =
    q.tensor === T.OUT ? at(SRC_TRACE, l, t, q.col, m.d)
    : q.tensor === T.ARGMAX ? at(SRC_STEP, T.LOGIT, 0, q.col, m.vocab)
    : q.tensor === T.EMBED ? at(SRC_TRACE, 0, t, q.col, m.d)
    : at(SRC_STEP, q.tensor, q.row, q.col, len);
  const nd = ceilDiv(m.d, C);
  const nT = ceilDiv(m.T, C);
  const group = m.heads / m.kvHeads;
  const half = m.hd / 2;
  let inputs: Loc[];
  switch (q.tensor) {
    case T.SS1_PART: inputs = [L(SRC_TRACE, l - 1, q.row, q.col, m.d)]; break;
    case T.SS2_PART: inputs = [L(SRC_STEP, T.X1, 0, q.col, m.d)]; break;
    case T.R1: inputs = rowLocs(m, T.SS1_PART, q.col, nd); break;
    case T.R2: inputs = rowLocs(m, T.SS2_PART, 0, nd); break;
    case T.N1: inputs = [at(SRC_TRACE, l - 1, q.row, q.col, m.d), at(SRC_WEIGHTS, head ? W.FINAL_NORM : l8 | W.ATTN_NORM, 0, q.col, m.d), at(SRC_STEP, T.R1, 0, q.row, m.T)]; break;
    case T.LOGIT_PART: inputs = [L(SRC_WEIGHTS, W.LM_HEAD, q.row, q.col, m.d), L(SRC_STEP, T.N1, t, q.col, m.d)]; break;
    case T.LOGIT: inputs = rowLocs(m, T.LOGIT_PART, q.col, nd); break;
    // The row of the second LOGIT chunk is the next token, resolved from the trace (row -1 here).
    case T.ARGMAX: inputs = [L(SRC_TRACE, TOKEN_TENSOR_ID, t + 1, 0, 1), L(SRC_STEP, T.LOGIT, 0, -1, m.vocab)]; break;
    case T.N2: inputs = [at(SRC_STEP, T.X1, 0, q.col, m.d), at(SRC_WEIGHTS, l8 | W.MLP_NORM, 0, q.col, m.d), at(SRC_STEP, T.R2, 0, 0, 1)]; break;
    case T.Q_PART: inputs = [L(SRC_WEIGHTS, l8 | W.Q, q.row, q.col, m.d), L(SRC_STEP, T.N1, t, q.col, m.d)]; break;
    case T.K_PART: case T.V_PART:
      inputs = [L(SRC_WEIGHTS, l8 | (q.tensor === T.K_PART ? W.K : W.V), q.row % m.kv, q.col, m.d), L(SRC_STEP, T.N1, Math.floor(q.row / m.kv), q.col, m.d)];
      break;
    case T.WO_PART: inputs = [L(SRC_WEIGHTS, l8 | W.O, q.row, q.col, m.heads * m.hd), L(SRC_STEP, T.O, 0, q.col, m.heads * m.hd)]; break;
    case T.G_PART: case T.U_PART:
      inputs = [L(SRC_WEIGHTS, l8 | (q.tensor === T.G_PART ? W.GATE : W.UP), q.row, q.col, m.d), L(SRC_STEP, T.N2, 0, q.col, m.d)];
      break;
    case T.D_PART: inputs = [L(SRC_WEIGHTS, l8 | W.DOWN, q.row, q.col, m.f), L(SRC_STEP, T.A, 0, q.col, m.f)]; break;
    // With q/k/v biases the projection's bias element is opened last (PROTOCOL §6.2).
    case T.Q_PRE: inputs = [...rowLocs(m, T.Q_PART, q.row * m.hd + q.col, nd), ...biasLoc(l8 | W.Q_BIAS, q.row * m.hd + q.col, m.heads * m.hd)]; break;
    case T.K_PRE: inputs = [...rowLocs(m, T.K_PART, q.row * m.hd + q.col, nd), ...biasLoc(l8 | W.K_BIAS, (q.row % m.kvHeads) * m.hd + q.col, m.kv)]; break;
    case T.V_T: inputs = [...rowLocs(m, T.V_PART, q.col * m.kv + q.row, nd), ...biasLoc(l8 | W.V_BIAS, q.row, m.kv)]; break;
    case T.Y_O: inputs = rowLocs(m, T.WO_PART, q.col, ceilDiv(m.heads * m.hd, C)); break;
    case T.G: inputs = rowLocs(m, T.G_PART, q.col, nd); break;
    case T.U: inputs = rowLocs(m, T.U_PART, q.col, nd); break;
    case T.Y_D: inputs = rowLocs(m, T.D_PART, q.col, ceilDiv(m.f, C)); break;
    case T.Q: case T.K: {
      const pre = q.tensor === T.Q ? T.Q_PRE : T.K_PRE;
      const pair = q.col < half ? q.col + half : q.col - half;
      inputs = [at(SRC_STEP, pre, q.row, q.col, m.hd), at(SRC_STEP, pre, q.row, pair, m.hd)];
      // Committed inverse frequencies (ropeBase 0): the pair's frequency is opened last.
      if (ropeBase(ctx.ropeTheta) === 0) inputs.push(at(SRC_WEIGHTS, W.ROPE_FREQ, 0, q.col % half, half));
      break;
    }
    case T.S_PART: {
      const h = Math.floor(q.row / m.T);
      const kvRow = (q.row % m.T) * m.kvHeads + Math.floor(h / group);
      inputs = [L(SRC_STEP, T.Q, h, q.col, m.hd), L(SRC_STEP, T.K, kvRow, q.col, m.hd)];
      break;
    }
    case T.S: inputs = rowLocs(m, T.S_PART, q.row * m.T + q.col, ceilDiv(m.hd, C)); break;
    case T.E: inputs = [at(SRC_STEP, T.S, q.row, q.col, m.T), at(SRC_STEP, T.M, 0, q.row, m.heads)]; break;
    case T.Z_PART: inputs = [L(SRC_STEP, T.E, q.row, q.col, m.T)]; break;
    case T.Z: inputs = rowLocs(m, T.Z_PART, q.col, nT); break;
    case T.O_PART: {
      const h = Math.floor(q.row / m.hd);
      const vRow = Math.floor(h / group) * m.hd + (q.row % m.hd);
      inputs = [L(SRC_STEP, T.E, h, q.col, m.T), L(SRC_STEP, T.V_T, vRow, q.col, m.T)];
      break;
    }
    case T.O: inputs = [...rowLocs(m, T.O_PART, q.col, nT), at(SRC_STEP, T.Z, 0, Math.floor(q.col / m.hd), m.heads)]; break;
    case T.X1: inputs = [at(SRC_TRACE, l - 1, t, q.col, m.d), at(SRC_STEP, T.Y_O, 0, q.col, m.d)]; break;
    case T.OUT: inputs = [at(SRC_STEP, T.X1, 0, q.col, m.d), at(SRC_STEP, T.Y_D, 0, q.col, m.d)]; break;
    case T.A: inputs = [at(SRC_STEP, T.G, 0, q.col, m.f), at(SRC_STEP, T.U, 0, q.col, m.f)]; break;
    case T.OUT_ERR_PART:
      inputs = [L(SRC_TRACE, l, t, q.col, m.d), L(SRC_STEP, T.X1, 0, q.col, m.d), L(SRC_STEP, T.Y_D, 0, q.col, m.d)];
      break;
    case T.EMBED: inputs = [L(SRC_TRACE, TOKEN_TENSOR_ID, t, 0, 1), at(SRC_WEIGHTS, W.EMBED, -1, q.col, m.d)]; break;
    default: throw new JudgeError(`no plan for tensor ${q.tensor}`);
  }
  return [claimed, ...inputs];
}

/** Returns a leaf's committed chunk bytes (the caller's trees / disk). */
export type ChunkReader = (loc: Loc) => Uint8Array;

/**
 * The contract's verdict for `claim`, reading the same leaves the contract would be given.
 * The EMBED weight row is the token id read from the trace, so its plan row is resolved here.
 */
export function judgeClaim(ctx: JudgeContext, q: Claim, read: ChunkReader): Verdict {
  const op = opOf(q.tensor, ctx.layer, ctx.layers);
  const plan = planOpenings(ctx, q);
  const m = dims(ctx);
  const { C } = m;
  const dtypeOf = (src: Src): 1 | 2 => (src === SRC_TRACE ? ctx.traceDtype : src === SRC_WEIGHTS ? ctx.weightsDtype : STEP_DTYPE);
  // Committed RoPE frequencies are binary32 whatever the weights dtype (PROTOCOL §3.5).
  const dtypeAt = (loc: Loc): 1 | 2 => (loc.src === SRC_WEIGHTS && isBinary32Weights(loc.tensor) ? 2 : dtypeOf(loc.src));
  const open = (loc: Loc): { bytes: Uint8Array; n: number } => {
    const bytes = read(loc);
    const n = Math.min(C, loc.rowLen - loc.chunk * C);
    const width = loc.tensor === TOKEN_TENSOR_ID && loc.src === SRC_TRACE ? 4 : dtypeAt(loc) === 1 ? 2 : 4;
    if (bytes.length !== n * width) malformed(loc);
    return { bytes, n };
  };
  const malformed = (loc: Loc): never => {
    if (loc.src === SRC_WEIGHTS) throw new JudgeError(`weights chunk malformed: ${JSON.stringify(loc)}`);
    throw new ProverMalformedError(loc);
  };
  const elem = (loc: Loc, bytes: Uint8Array, i: number): bigint => fx.elementAt(bytes, dtypeAt(loc), i) ?? malformed(loc);
  const one = (loc: Loc, col: number): bigint => elem(loc, open(loc).bytes, col % C);
  const dot = (la: Loc, lb: Loc | undefined, mode: 0 | 1 | 2): [bigint, bigint] => {
    const a = open(la);
    const b = mode === 0 ? open(lb!) : a;
    if (b.n !== a.n) throw new JudgeError("chunk length mismatch");
    const r = ops.dot(a.bytes, dtypeOf(la.src), b.bytes, dtypeOf((lb ?? la).src), a.n, mode);
    if (r.bad === 1) malformed(la);
    if (r.bad === 2) malformed(lb!);
    return [r.ref, r.mag];
  };
  const sum = (locs: Loc[]): [bigint, bigint] => {
    let acc = 0n;
    let accAbs = 0n;
    for (const loc of locs) {
      const { bytes, n } = open(loc);
      const r = ops.sum(bytes, STEP_DTYPE, n) ?? malformed(loc);
      acc += r.acc;
      accAbs += r.accAbs;
    }
    return [acc, accAbs];
  };
  const pair = (r: ops.RefMag): [bigint, bigint] => [r.ref, r.mag];

  try {
    if (q.tensor === T.OUT_ROW) {
      const k = plan.length / 2;
      const [err] = sum(plan.slice(0, k));
      const [mag] = sum(plan.slice(k));
      const { ok, bound } = fx.within(err, 0n, mag > 0n ? mag : 0n, ctx.atol, ctx.rtol);
      return { fraud: !ok, op, claimed: err, ref: 0n, bound };
    }
    // Claimed element: for EMBED the weight row is the token id, read first.
    const claimed = one(plan[0]!, q.col);
    // An honest normalizer is ≥ 1 (PROTOCOL §7.6): below it the shift M is not bounded.
    if (q.tensor === T.Z && claimed < fx.ONE) malformed(plan[0]!);
    const inputs = plan.slice(1);
    let ref: bigint;
    let mag: bigint;
    const t = q.tensor;
    if (t === T.SS1_PART || t === T.SS2_PART) [ref, mag] = dot(inputs[0]!, undefined, 1);
    else if (t === T.R1 || t === T.R2) {
      const [ss] = sum(inputs);
      const eps = fx.decodeF32(ctx.normEpsBits) ?? 0n;
      [ref, mag] = pair(ops.rsqrt(ss, BigInt(m.d), eps) ?? malformed(inputs[0]!));
    } else if (t === T.N1 || t === T.N2) {
      const x = one(inputs[0]!, q.col);
      const g = one(inputs[1]!, q.col);
      const r = one(inputs[2]!, t === T.N1 ? q.row : 0);
      [ref, mag] = pair(ops.normScale(x, g, r));
    } else if (t === T.ARGMAX) {
      const rule = ops.samplingRule(ctx.samplingParams);
      if (!rule.ok || ctx.position + 1 < ctx.inputTokens) throw new JudgeError("argmax claims need a verifiable sampling rule and a sampled position");
      const tok = open(inputs[0]!).bytes;
      const token = (tok[0]! | (tok[1]! << 8) | (tok[2]! << 16) | (tok[3]! << 24)) >>> 0;
      if (token >= ctx.vocab) malformed(inputs[0]!);
      const ztok = one({ ...inputs[1]!, chunk: Math.floor(token / C) }, token);
      const p = ctx.position + 1;
      const sj = ops.score(claimed, rule.tau, rule.seed, p, q.col);
      const stok = ops.score(ztok, rule.tau, rule.seed, p, token);
      const { fraud, bound } = ops.argmax(claimed, ztok, sj, stok, ctx.atol, ctx.rtol);
      return { fraud, op, claimed: stok, ref: sj, bound };
    } else if ([T.Q_PART, T.K_PART, T.V_PART, T.WO_PART, T.G_PART, T.U_PART, T.D_PART, T.S_PART, T.O_PART, T.LOGIT_PART].includes(t as never)) {
      [ref, mag] = dot(inputs[0]!, inputs[1]!, 0);
    } else if ((t === T.Q_PRE || t === T.K_PRE || t === T.V_T) && hasQkvBias(ctx.ropeTheta)) {
      // Σ partials + the projection's bias element, |b| added to the magnitude.
      const biasLoc = inputs[inputs.length - 1]!;
      const [acc, accAbs] = sum(inputs.slice(0, -1));
      const b = one(biasLoc, t === T.Q_PRE ? q.row * m.hd + q.col : t === T.K_PRE ? (q.row % m.kvHeads) * m.hd + q.col : q.row);
      [ref, mag] = [acc + b, accAbs + fx.abs(b)];
    } else if ([T.Q_PRE, T.K_PRE, T.V_T, T.Y_O, T.G, T.U, T.Y_D, T.Z, T.LOGIT].includes(t as never)) {
      [ref, mag] = sum(inputs);
    } else if (t === T.Q || t === T.K) {
      const half = m.hd / 2;
      const low = q.col < half;
      const x = one(inputs[0]!, q.col);
      const y = one(inputs[1]!, low ? q.col + half : q.col - half);
      const pos = t === T.Q ? ctx.position : Math.floor(q.row / m.kvHeads);
      const base = ropeBase(ctx.ropeTheta);
      // A committed frequency decodes to Q48; the angle is computed in Q64.
      [ref, mag] = pair(base === 0 ? ops.ropeWithInvFreq(x, y, BigInt(pos), BigInt(q.col), BigInt(m.hd), one(inputs[2]!, q.col % half) << 16n) : ops.rope(x, y, BigInt(pos), BigInt(q.col), BigInt(m.hd), BigInt(base)));
    } else if (t === T.S) {
      const [s, sm] = sum(inputs);
      [ref, mag] = pair(ops.scoreSum(s, sm, BigInt(m.hd)));
    } else if (t === T.E) {
      const s = one(inputs[0]!, q.col);
      const shift = one(inputs[1]!, q.row);
      [ref, mag] = pair(ops.softmaxExp(s, shift) ?? malformed(L(SRC_STEP, T.M, 0, Math.floor(q.row / C), m.heads)));
    } else if (t === T.Z_PART) {
      [ref, mag] = dot(inputs[0]!, undefined, 2);
    } else if (t === T.O) {
      const h = Math.floor(q.col / m.hd);
      const zLoc = inputs[inputs.length - 1]!;
      const z = one(zLoc, h);
      if (z < fx.ONE) malformed(zLoc);
      const [acc, accAbs] = sum(inputs.slice(0, -1));
      [ref, mag] = pair(ops.attnSum(acc, accAbs, z));
    } else if (t === T.X1 || t === T.OUT) {
      const a = one(inputs[0]!, q.col);
      const b = one(inputs[1]!, q.col);
      [ref, mag] = pair(ops.add(a, b));
    } else if (t === T.OUT_ERR_PART) {
      const [lh, lx, ly] = inputs as [Loc, Loc, Loc];
      const h = open(lh);
      const x = open(lx);
      const y = open(ly);
      const r = ops.rowErr(h.bytes, ctx.traceDtype, x.bytes, y.bytes, h.n, q.row === 0);
      if (r.bad !== 0) malformed([lh, lx, ly][r.bad - 1]!);
      ref = r.ref;
      mag = fx.abs(ref);
    } else if (t === T.A) {
      const g = one(inputs[0]!, q.col);
      const u = one(inputs[1]!, q.col);
      [ref, mag] = pair(ops.swiglu(g, u));
    } else {
      // EMBED: token from the trace, then that row of the embedding table.
      const tokLoc = inputs[0]!;
      const tok = open(tokLoc).bytes;
      const token = (tok[0]! | (tok[1]! << 8) | (tok[2]! << 16) | (tok[3]! << 24)) >>> 0;
      if (token >= ctx.vocab) malformed(tokLoc);
      ref = one({ ...inputs[1]!, row: token }, q.col);
      mag = fx.abs(ref);
    }
    const { ok, bound } = fx.within(claimed, ref, mag, ctx.atol, ctx.rtol);
    return { fraud: !ok, op, claimed, ref, bound };
  } catch (err) {
    if (err instanceof ProverMalformedError) return { fraud: true, op, claimed: 0n, ref: 0n, bound: 0n, malformed: err.loc };
    throw err;
  }
}
