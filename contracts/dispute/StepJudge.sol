// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IStepJudge} from "./IStepJudge.sol";
import {StepLayout} from "./StepLayout.sol";
import {OpCodes} from "./OpCodes.sol";
import {StepOps} from "./StepOps.sol";
import {CommitmentLeaf} from "../libraries/CommitmentLeaf.sol";
import {FixedMath} from "../libraries/FixedMath.sol";

/// @title One-step judge (docs/PROTOCOL.md §7.4)
/// @notice Derives, from a claim alone, which committed chunks it depends on; verifies the
/// caller's openings of exactly those leaves; recomputes the element in exact fixed point
/// (FixedMath) and applies the tolerance rule. Every transaction touches O(C + n/C) values.
/// @dev Stateless and pure so the game can `try` it and a separate deployment keeps both
/// contracts under the code-size limit. Op families: norm, matmul (partial and sum), RoPE,
/// attention (scores, softmax, weighted sum), residual, activation, embedding.
contract StepJudge is IStepJudge {
    uint8 internal constant SRC_TRACE = 0;
    uint8 internal constant SRC_WEIGHTS = 1;
    uint8 internal constant SRC_STEP = 2;

    /// Working context kept in memory to stay clear of stack limits.
    struct W {
        StepLayout.Dims m;
        bytes32 traceRoot;
        bytes32 promptRoot;
        bytes32 outputRoot;
        uint256 inputTokens;
        bytes32 weightsRoot;
        bytes32 stepRoot;
        uint256 t;
        uint256 l;
        uint8 traceDtype;
        uint8 weightsDtype;
        uint256 vocab;
        uint256 layers;
        int256 eps;
        uint256 ropeTheta;
    }

    /// @inheritdoc IStepJudge
    function judge(Context calldata c, Claim calldata q, Opening[] calldata o)
        external
        pure
        returns (Verdict memory v)
    {
        W memory w = _context(c);
        v.op = StepLayout.opOf(q.tensor, c.layer, c.layers);
        (uint256 rows, uint256 len) = StepLayout.shape(w.m, q.tensor);
        if (q.row >= rows || q.col >= len) revert InvalidClaim(q.tensor, q.row, q.col);
        // The head step normalizes position t only; its other rows are not part of the claim space.
        if (
            c.layer == c.layers + 1
                && (
                    ((q.tensor == StepLayout.SS1_PART || q.tensor == StepLayout.N1) && q.row != c.position)
                        || (q.tensor == StepLayout.R1 && q.col != c.position)
                )
        ) revert InvalidClaim(q.tensor, q.row, q.col);
        _expectOpenings(w, q, o.length);
        if (q.tensor == StepLayout.ARGMAX) return _argmax(w, c, q, o);
        if (q.tensor == StepLayout.OUT_ROW) return _outRow(w, c, o);

        // The claimed element: a trace element for OUT and EMBED, else a step element.
        if (q.tensor == StepLayout.OUT) {
            v.claimed = _one(w, _loc(SRC_TRACE, w.l, w.t, 0, w.m.d), q.col, o[0]);
        } else if (q.tensor == StepLayout.EMBED) {
            v.claimed = _one(w, _loc(SRC_TRACE, 0, w.t, 0, w.m.d), q.col, o[0]);
        } else {
            v.claimed = _one(w, _loc(SRC_STEP, q.tensor, q.row, 0, len), q.col, o[0]);
            // INVARIANT: an honest normalizer is ≥ 1 (the shift is the committed row maximum, whose
            // exp is exactly 1). Bounding Z is what bounds the free shift M (PROTOCOL §7.6).
            if (q.tensor == StepLayout.Z && v.claimed < FixedMath.ONE) {
                revert ProverCommitmentMalformed(SRC_STEP, StepLayout.Z, 0, q.col / w.m.C);
            }
        }
        uint256 mag;
        (v.ref, mag) = _reference(w, q, o);
        bool ok;
        (ok, v.bound) = FixedMath.within(v.claimed, v.ref, mag, c.atol, c.rtol);
        v.fraud = !ok;
    }

    function _context(Context calldata c) private pure returns (W memory w) {
        uint256 hd = c.hidden / c.heads;
        w.m = StepLayout.Dims({
            d: c.hidden,
            heads: c.heads,
            kvHeads: c.kvHeads,
            hd: hd,
            kv: c.kvHeads * hd,
            f: c.ffn,
            T: c.position + 1,
            C: c.chunkSize,
            vocab: c.vocab
        });
        w.traceRoot = c.traceRoot;
        w.promptRoot = c.promptRoot;
        w.outputRoot = c.outputRoot;
        w.inputTokens = c.inputTokens;
        w.weightsRoot = c.weightsRoot;
        w.stepRoot = c.stepRoot;
        w.t = c.position;
        w.l = c.layer;
        w.traceDtype = c.traceDtype;
        w.weightsDtype = c.weightsDtype;
        w.vocab = c.vocab;
        w.layers = c.layers;
        (w.eps,) = FixedMath.decodeF32(c.normEpsBits);
        w.ropeTheta = c.ropeTheta;
    }

    /// @dev Number of openings each claim needs: [claimed, inputs...] (PROTOCOL §7.4 table).
    function _expectOpenings(W memory w, Claim calldata q, uint256 given) private pure {
        uint256 tensor = q.tensor;
        StepLayout.Dims memory m = w.m;
        uint256 n;
        if (
            tensor == StepLayout.R1 || tensor == StepLayout.R2 || tensor == StepLayout.G || tensor == StepLayout.U
                || tensor == StepLayout.LOGIT
        ) {
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.d, m.C), m.C);
        } else if (tensor == StepLayout.Q_PRE || tensor == StepLayout.K_PRE || tensor == StepLayout.V_T) {
            // + the projection's bias element when the model has q/k/v biases.
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.d, m.C), m.C) + (_qkvBias(w) ? 1 : 0);
        } else if (tensor == StepLayout.Y_O) {
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.heads * m.hd, m.C), m.C);
        } else if (tensor == StepLayout.Y_D) {
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.f, m.C), m.C);
        } else if (tensor == StepLayout.S) {
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.hd, m.C), m.C);
        } else if (tensor == StepLayout.Z) {
            n = 1 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.T, m.C), m.C);
        } else if (tensor == StepLayout.O) {
            n = 2 + StepLayout.ceilDiv(StepLayout.ceilDiv(m.T, m.C), m.C);
        } else if (tensor == StepLayout.SS1_PART || tensor == StepLayout.SS2_PART || tensor == StepLayout.Z_PART) {
            n = 2;
        } else if (tensor == StepLayout.N1 || tensor == StepLayout.N2 || tensor == StepLayout.OUT_ERR_PART) {
            n = 4;
        } else if (tensor == StepLayout.OUT_ROW) {
            n = 2 * StepLayout.ceilDiv(StepLayout.ceilDiv(m.d, m.C), m.C);
        } else if ((tensor == StepLayout.Q || tensor == StepLayout.K) && _ropeBase(w) == 0) {
            // RoPE with committed frequencies: element, its pair, the pair's frequency.
            n = 4;
        } else {
            // Partials with two inputs, RoPE (element and its pair), exp (s, m), residual,
            // SwiGLU, layer output, embedding (token, row): claimed + 2.
            n = 3;
        }
        if (given != n) revert WrongOpeningCount(given, n);
    }

    function _reference(W memory w, Claim calldata q, Opening[] calldata o)
        private
        pure
        returns (int256 ref, uint256 mag)
    {
        uint8 op = StepLayout.opOf(q.tensor, w.l, w.layers);
        if (op == OpCodes.NORM_SUMSQ) return _sumSq(w, q, o);
        if (op == OpCodes.NORM_RSQRT) return _rsqrt(w, q, o);
        if (op == OpCodes.NORM_SCALE) return _norm(w, q, o);
        if (op == OpCodes.MATMUL_PARTIAL) return _matmulPartial(w, q, o);
        if (op == OpCodes.MATMUL_SUM) return _matmulSum(w, q, o);
        if (op == OpCodes.ROPE) return _rope(w, q, o);
        if (op == OpCodes.RESIDUAL || op == OpCodes.LAYER_OUT || op == OpCodes.SWIGLU) return _elementwise(w, q, o);
        if (op == OpCodes.EMBED) return _embed(w, q.col, o);
        if (op == OpCodes.LAYER_OUT_ERR_PARTIAL) return _rowErrPartial(w, q, o);
        return _attention(w, q, o);
    }

    function _sumSq(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        Loc memory la = q.tensor == StepLayout.SS1_PART
            ? _loc(SRC_TRACE, w.l - 1, q.row, q.col, w.m.d)
            : _loc(SRC_STEP, StepLayout.X1, 0, q.col, w.m.d);
        return _dot(w, la, o[1], la, o[1], 1);
    }

    /// @dev Weight row chunk · input chunk for Q, K, V, O, gate, up, down.
    function _matmulPartial(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        uint256 tensor = q.tensor;
        StepLayout.Dims memory m = w.m;
        Loc memory lw = _loc(SRC_WEIGHTS, w.l << 8, q.row, q.col, m.d);
        Loc memory lx = _loc(SRC_STEP, StepLayout.N1, w.t, q.col, m.d);
        if (tensor == StepLayout.LOGIT_PART) {
            lw.tensor = StepLayout.W_LM_HEAD;
        } else if (tensor == StepLayout.Q_PART) {
            lw.tensor |= StepLayout.W_Q;
        } else if (tensor == StepLayout.K_PART || tensor == StepLayout.V_PART) {
            lw.tensor |= tensor == StepLayout.K_PART ? StepLayout.W_K : StepLayout.W_V;
            lw.row = q.row % m.kv;
            lx.row = q.row / m.kv;
        } else if (tensor == StepLayout.WO_PART) {
            lw.tensor |= StepLayout.W_O;
            lw.rowLen = m.heads * m.hd;
            (lx.tensor, lx.row, lx.rowLen) = (StepLayout.O, 0, m.heads * m.hd);
        } else if (tensor == StepLayout.G_PART || tensor == StepLayout.U_PART) {
            lw.tensor |= tensor == StepLayout.G_PART ? StepLayout.W_GATE : StepLayout.W_UP;
            (lx.tensor, lx.row) = (StepLayout.N2, 0);
        } else {
            // D_PART
            lw.tensor |= StepLayout.W_DOWN;
            lw.rowLen = m.f;
            (lx.tensor, lx.row, lx.rowLen) = (StepLayout.A, 0, m.f);
        }
        return _dot(w, lw, o[1], lx, o[2], 0);
    }

    /// @dev A projection output equals the sum of its committed partials row (+ its bias).
    function _matmulSum(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        uint256 tensor = q.tensor;
        StepLayout.Dims memory m = w.m;
        uint256 nd = StepLayout.ceilDiv(m.d, m.C);
        if (tensor == StepLayout.Q_PRE || tensor == StepLayout.K_PRE || tensor == StepLayout.V_T) return _projection(w, q, nd, o);
        if (tensor == StepLayout.Y_O) {
            return _sumOf(w, StepLayout.WO_PART, q.col, StepLayout.ceilDiv(m.heads * m.hd, m.C), o);
        }
        if (tensor == StepLayout.G) return _sumOf(w, StepLayout.G_PART, q.col, nd, o);
        if (tensor == StepLayout.LOGIT) return _sumOf(w, StepLayout.LOGIT_PART, q.col, nd, o);
        if (tensor == StepLayout.U) return _sumOf(w, StepLayout.U_PART, q.col, nd, o);
        return _sumOf(w, StepLayout.D_PART, q.col, StepLayout.ceilDiv(m.f, m.C), o);
    }

    /// @dev Q_PRE / K_PRE / V_T: Σ partials, plus the bias element (opened last) of models with
    /// q/k/v biases; |b| joins the magnitude (PROTOCOL §6.2).
    function _projection(W memory w, Claim calldata q, uint256 nd, Opening[] calldata o)
        private
        pure
        returns (int256 ref, uint256 mag)
    {
        StepLayout.Dims memory m = w.m;
        if (q.tensor == StepLayout.Q_PRE) (ref, mag) = _sumOf(w, StepLayout.Q_PART, q.row * m.hd + q.col, nd, o);
        else if (q.tensor == StepLayout.K_PRE) (ref, mag) = _sumOf(w, StepLayout.K_PART, q.row * m.hd + q.col, nd, o);
        else (ref, mag) = _sumOf(w, StepLayout.V_PART, q.col * m.kv + q.row, nd, o);
        if (_qkvBias(w)) {
            int256 b = _bias(w, q, o[o.length - 1]);
            ref += b;
            mag += FixedMath.abs(b);
        }
    }

    /// @dev The bias element of a projection output: bq[h·hd + i], bk[g·hd + i], bv[j].
    function _bias(W memory w, Claim calldata q, Opening calldata ob) private pure returns (int256) {
        StepLayout.Dims memory m = w.m;
        Loc memory lb = _loc(SRC_WEIGHTS, (w.l << 8) | StepLayout.W_V_BIAS, 0, 0, m.kv);
        uint256 col = q.row; // V_T row j
        if (q.tensor == StepLayout.Q_PRE) {
            (lb.tensor, lb.rowLen, col) = ((w.l << 8) | StepLayout.W_Q_BIAS, m.heads * m.hd, q.row * m.hd + q.col);
        } else if (q.tensor == StepLayout.K_PRE) {
            (lb.tensor, col) = ((w.l << 8) | StepLayout.W_K_BIAS, (q.row % m.kvHeads) * m.hd + q.col);
        }
        return _one(w, lb, col, ob);
    }

    /// @dev Scores, softmax and the V-weighted sum.
    function _attention(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        uint256 tensor = q.tensor;
        if (tensor == StepLayout.S_PART || tensor == StepLayout.O_PART) return _attnPartial(w, q, o);
        if (tensor == StepLayout.S) {
            (int256 s, uint256 sm) =
                _sumOf(w, StepLayout.S_PART, q.row * w.m.T + q.col, StepLayout.ceilDiv(w.m.hd, w.m.C), o);
            return StepOps.scoreSum(s, sm, w.m.hd);
        }
        if (tensor == StepLayout.E) return _softmaxExp(w, q, o);
        if (tensor == StepLayout.Z_PART) {
            Loc memory le = _loc(SRC_STEP, StepLayout.E, q.row, q.col, w.m.T);
            return _dot(w, le, o[1], le, o[1], 2);
        }
        if (tensor == StepLayout.Z) return _sumOf(w, StepLayout.Z_PART, q.col, StepLayout.ceilDiv(w.m.T, w.m.C), o);
        return _attnSum(w, q, o);
    }

    /// @dev S_PART: Q[h] chunk · K[p·G+g] chunk; O_PART: E[h] chunk · V_T[g·hd+i] chunk.
    function _attnPartial(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        StepLayout.Dims memory m = w.m;
        uint256 group = m.heads / m.kvHeads;
        Loc memory la;
        Loc memory lb;
        la.src = SRC_STEP;
        lb.src = SRC_STEP;
        la.chunk = q.col;
        lb.chunk = q.col;
        if (q.tensor == StepLayout.S_PART) {
            uint256 h = q.row / m.T;
            (la.tensor, la.row, la.rowLen) = (StepLayout.Q, h, m.hd);
            (lb.tensor, lb.row, lb.rowLen) = (StepLayout.K, (q.row % m.T) * m.kvHeads + h / group, m.hd);
        } else {
            uint256 h = q.row / m.hd;
            (la.tensor, la.row, la.rowLen) = (StepLayout.E, h, m.T);
            (lb.tensor, lb.row, lb.rowLen) = (StepLayout.V_T, (h / group) * m.hd + q.row % m.hd, m.T);
        }
        return _dot(w, la, o[1], lb, o[2], 0);
    }

    function _softmaxExp(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        int256 s = _one(w, _loc(SRC_STEP, StepLayout.S, q.row, 0, w.m.T), q.col, o[1]);
        int256 shift = _one(w, _loc(SRC_STEP, StepLayout.M, 0, 0, w.m.heads), q.row, o[2]);
        (int256 e, uint256 mag, bool ok) = StepOps.softmaxExp(s, shift);
        // An honest shift is the row maximum, so arguments above EXP_MAX are the prover's fault.
        if (!ok) revert ProverCommitmentMalformed(SRC_STEP, StepLayout.M, 0, q.row / w.m.C);
        return (e, mag);
    }

    /// @dev O: Σ partials / Z_h.
    function _attnSum(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        int256 z = _normalizer(w, q.col / w.m.hd, o[o.length - 1]);
        (int256 acc, uint256 accAbs) = _sumOf(w, StepLayout.O_PART, q.col, StepLayout.ceilDiv(w.m.T, w.m.C), o);
        return StepOps.attnSum(acc, accAbs, z);
    }

    function _normalizer(W memory w, uint256 h, Opening calldata oz) private pure returns (int256 z) {
        z = _one(w, _loc(SRC_STEP, StepLayout.Z, 0, 0, w.m.heads), h, oz);
        // INVARIANT: Z ≥ 1 for an honest prover (see `judge`); below it E's absolute tolerance
        // would dominate the attention weights E/Z.
        if (z < FixedMath.ONE) revert ProverCommitmentMalformed(SRC_STEP, StepLayout.Z, 0, h / w.m.C);
    }

    /// @dev Residuals (x1 = h + y_o; h' = x1 + y_d) and SwiGLU.
    function _elementwise(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        uint256 d = w.m.d;
        if (q.tensor == StepLayout.X1) {
            return StepOps.add(_one(w, _loc(SRC_TRACE, w.l - 1, w.t, 0, d), q.col, o[1]), _one(w, _loc(SRC_STEP, StepLayout.Y_O, 0, 0, d), q.col, o[2]));
        }
        if (q.tensor == StepLayout.OUT) {
            return StepOps.add(_one(w, _loc(SRC_STEP, StepLayout.X1, 0, 0, d), q.col, o[1]), _one(w, _loc(SRC_STEP, StepLayout.Y_D, 0, 0, d), q.col, o[2]));
        }
        int256 g = _one(w, _loc(SRC_STEP, StepLayout.G, 0, 0, w.m.f), q.col, o[1]);
        int256 u = _one(w, _loc(SRC_STEP, StepLayout.U, 0, 0, w.m.f), q.col, o[2]);
        return StepOps.swiglu(g, u);
    }

    /// @dev HEAD_ARGMAX (generated positions only): openings [LOGIT chunk of j, token leaf t+1,
    /// LOGIT chunk of that token]. score = z (greedy) or z + τ·g(s, t+1, v) (sampled,
    /// PROTOCOL §4.4); fraud iff score[j] − score[tok] exceeds atol + rtol·(|z[j]| + |z[tok]|).
    /// `claimed` is score[tok], `ref` score[j].
    function _argmax(W memory w, Context calldata c, Claim calldata q, Opening[] calldata o)
        private
        pure
        returns (Verdict memory v)
    {
        if (w.t + 1 < c.inputTokens) revert InvalidClaim(q.tensor, q.row, q.col);
        uint256 token = _token(w, w.t + 1, o[1]);
        v.op = OpCodes.HEAD_ARGMAX;
        int256 zj = _one(w, _loc(SRC_STEP, StepLayout.LOGIT, 0, 0, w.vocab), q.col, o[0]);
        int256 ztok = _one(w, _loc(SRC_STEP, StepLayout.LOGIT, 0, 0, w.vocab), token, o[2]);
        (v.ref, v.claimed) = _scores(c, q, token, zj, ztok);
        (v.fraud, v.bound) = StepOps.argmax(zj, ztok, v.ref, v.claimed, c.atol, c.rtol);
    }

    /// @dev (score[j], score[token]) under the job's rule; a rule the judge cannot check
    /// (top-k ∉ {0, 1}, rejected at openJob) makes the claim invalid.
    function _scores(Context calldata c, Claim calldata q, uint256 token, int256 zj, int256 ztok)
        private
        pure
        returns (int256 sj, int256 stok)
    {
        (int256 tau, uint64 seed, bool verifiable) = StepOps.samplingRule(c.samplingParams);
        if (!verifiable) revert InvalidClaim(q.tensor, q.row, q.col);
        uint256 p = c.position + 1;
        sj = StepOps.score(zj, tau, seed, p, q.col);
        stok = StepOps.score(ztok, tau, seed, p, token);
    }

    /// @dev The token leaf of position `p` (uint32 little-endian), inside the vocabulary: from the
    /// prompt root or the output root (`_source`), so a trace of another prompt or a token other
    /// than the committed output cannot be opened.
    function _token(W memory w, uint256 p, Opening calldata op) private pure returns (uint256 token) {
        _open(w, _loc(SRC_TRACE, CommitmentLeaf.TOKEN_TENSOR, p, 0, 1), op);
        bytes calldata tok = op.chunk;
        token = uint256(uint8(tok[0])) | (uint256(uint8(tok[1])) << 8) | (uint256(uint8(tok[2])) << 16)
            | (uint256(uint8(tok[3])) << 24);
        if (token >= w.vocab) revert ProverCommitmentMalformed(SRC_TRACE, CommitmentLeaf.TOKEN_TENSOR, p, 0);
    }

    /// @dev LAYER_OUT_ERR_PARTIAL: openings [claimed, trace h[t][l] chunk c, X1 chunk c, Y_D chunk c].
    function _rowErrPartial(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        uint256 d = w.m.d;
        Loc memory lh = _loc(SRC_TRACE, w.l, w.t, q.col, d);
        Loc memory lx = _loc(SRC_STEP, StepLayout.X1, 0, q.col, d);
        Loc memory ly = _loc(SRC_STEP, StepLayout.Y_D, 0, q.col, d);
        // All three rows have length d, so their chunk c has the same length.
        uint256 spec = _open(w, lh, o[1]) | (uint256(w.traceDtype) << 32) | ((q.row == 0 ? 1 : 0) << 40);
        _open(w, lx, o[2]);
        _open(w, ly, o[3]);
        (int256 ref, uint256 bad) = StepOps.rowErr(o, spec);
        if (bad == 1) _malformed(lh);
        if (bad == 2) _malformed(lx);
        if (bad == 3) _malformed(ly);
        return (ref, FixedMath.abs(ref));
    }

    /// @dev LAYER_OUT_ROW, one-sided: openings [OUT_ERR_PART row 0 chunks, row 1 chunks].
    /// Fraud iff Σ row 0 (squared error) exceeds atol + rtol · Σ row 1 (squared magnitude);
    /// `claimed` is the squared error, `ref` 0.
    function _outRow(W memory w, Context calldata c, Opening[] calldata o) private pure returns (Verdict memory v) {
        uint256 k = o.length / 2;
        Loc memory lc = _loc(SRC_STEP, StepLayout.OUT_ERR_PART, 0, 0, StepLayout.ceilDiv(w.m.d, w.m.C));
        (int256 err,) = _sumFrom(w, lc, o, 0);
        lc.row = 1;
        (int256 mag,) = _sumFrom(w, lc, o, k);
        v.op = OpCodes.LAYER_OUT_ROW;
        v.claimed = err;
        // A negative magnitude only tightens the bound; partial claims catch it anyway.
        bool ok;
        (ok, v.bound) = FixedMath.within(err, 0, mag > 0 ? uint256(mag) : 0, c.atol, c.rtol);
        v.fraud = !ok;
    }

    // ---- Families.

    /// @dev n_i = x_i · g_i · r: x from the trace (N1) or X1 (N2), g from the weights.
    function _norm(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        bool attn = q.tensor == StepLayout.N1;
        int256[3] memory v;
        v[0] = _one(w, attn ? _loc(SRC_TRACE, w.l - 1, q.row, 0, w.m.d) : _loc(SRC_STEP, StepLayout.X1, 0, 0, w.m.d), q.col, o[1]);
        // The head step's norm is the final norm (tensorId 2, PROTOCOL §3.5).
        uint256 gainId = w.l == w.layers + 1
            ? StepLayout.W_FINAL_NORM
            : (w.l << 8) | (attn ? StepLayout.W_ATTN_NORM : StepLayout.W_MLP_NORM);
        v[1] = _one(w, _loc(SRC_WEIGHTS, gainId, 0, 0, w.m.d), q.col, o[2]);
        v[2] = attn
            ? _one(w, _loc(SRC_STEP, StepLayout.R1, 0, 0, w.m.T), q.row, o[3])
            : _one(w, _loc(SRC_STEP, StepLayout.R2, 0, 0, 1), 0, o[3]);
        return StepOps.normScale(v[0], v[1], v[2]);
    }

    /// @dev r = rsqrt(Σ partials / d + ε); R1 col p reads SS1_PART row p, R2 reads SS2_PART row 0.
    function _rsqrt(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256 ref, uint256 mag) {
        Loc memory lc;
        lc.src = SRC_STEP;
        (lc.tensor, lc.row) = q.tensor == StepLayout.R1 ? (StepLayout.SS1_PART, q.col) : (StepLayout.SS2_PART, 0);
        lc.rowLen = StepLayout.ceilDiv(w.m.d, w.m.C);
        (int256 ss,) = _sum(w, lc, o);
        bool ok;
        (ref, mag, ok) = StepOps.rsqrt(ss, w.m.d, w.eps);
        // Honest partials are sums of squares (≥ 0) and ε > 0.
        if (!ok) revert ProverCommitmentMalformed(SRC_STEP, lc.tensor, lc.row, 0);
    }

    /// @dev RoPE, Llama "rotate half" convention: pairs (i, i + hd/2) share frequency k = i mod hd/2.
    /// Q rows rotate at position t, K row p·G + g at position p.
    function _rope(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256, uint256) {
        int256 invFreq = _ropeInvFreqQ64(w, q.col, o);
        (int256 x, int256 y) = _ropeInputs(w, q, o);
        uint256 pos = q.tensor == StepLayout.Q ? w.t : q.row / w.m.kvHeads;
        return StepOps.ropeWithInvFreq(x, y, pos, q.col, w.m.hd, invFreq);
    }

    /// @dev Inverse frequency of element `col`'s pair in Q64: θ^(−2k/hd), or the committed one
    /// (RoPE base 0; binary32 → Q48 → Q64), opened last.
    function _ropeInvFreqQ64(W memory w, uint256 col, Opening[] calldata o) private pure returns (int256) {
        uint256 half = w.m.hd / 2;
        uint256 base = _ropeBase(w);
        if (base != 0) return FixedMath.ropeInvFreqQ64(base, col % half, w.m.hd);
        return _one(w, _loc(SRC_WEIGHTS, StepLayout.W_ROPE_FREQ, 0, 0, half), col % half, o[3]) << 16;
    }

    function _ropeBase(W memory w) private pure returns (uint256) {
        return w.ropeTheta & (StepLayout.QKV_BIAS_FLAG - 1);
    }

    function _qkvBias(W memory w) private pure returns (bool) {
        return w.ropeTheta & StepLayout.QKV_BIAS_FLAG != 0;
    }

    function _ropeInputs(W memory w, Claim calldata q, Opening[] calldata o) private pure returns (int256 x, int256 y) {
        Loc memory lp;
        lp.src = SRC_STEP;
        lp.tensor = q.tensor == StepLayout.Q ? StepLayout.Q_PRE : StepLayout.K_PRE;
        lp.row = q.row;
        lp.rowLen = w.m.hd;
        uint256 half = w.m.hd / 2;
        x = _one(w, lp, q.col, o[1]);
        y = _one(w, lp, q.col < half ? q.col + half : q.col - half, o[2]);
    }

    function _embed(W memory w, uint256 col, Opening[] calldata o) private pure returns (int256 ref, uint256 mag) {
        uint256 token = _token(w, w.t, o[1]);
        ref = _one(w, _loc(SRC_WEIGHTS, StepLayout.W_EMBED, token, 0, w.m.d), col, o[2]);
        mag = FixedMath.abs(ref);
    }

    /// @dev A leaf and the length of the row it belongs to.
    struct Loc {
        uint8 src;
        uint256 tensor;
        uint256 row;
        uint256 chunk;
        uint256 rowLen;
    }

    function _loc(uint8 src, uint256 tensor, uint256 row, uint256 chunk, uint256 rowLen)
        private
        pure
        returns (Loc memory)
    {
        return Loc(src, tensor, row, chunk, rowLen);
    }

    /// @dev One chunk of a reduction (StepOps.dot): `mode` 0: a·b; 1: a·a; 2: a·1 (b unused).
    function _dot(W memory w, Loc memory la, Opening calldata oA, Loc memory lb, Opening calldata oB, uint256 mode)
        private
        pure
        returns (int256 ref, uint256 mag)
    {
        uint256 n = _open(w, la, oA);
        // Both rows have the same length in every use, so chunk lengths agree.
        if (mode == 0 && _open(w, lb, oB) != n) revert InvalidClaim(lb.tensor, lb.row, lb.chunk);
        uint256 bad;
        mode = uint256(_dtype(w, la.src)) | (uint256(_dtype(w, lb.src)) << 8) | (mode << 16);
        (ref, mag, bad) = StepOps.dot(oA.chunk, oB.chunk, n, mode);
        if (bad == 1) _malformed(la);
        if (bad == 2) _malformed(lb);
    }

    function _sumOf(W memory w, uint256 tensor, uint256 row, uint256 len, Opening[] calldata o)
        private
        pure
        returns (int256, uint256)
    {
        return _sum(w, _loc(SRC_STEP, tensor, row, 0, len), o);
    }

    /// @dev Σ of the whole partials row `lc`, opened as ceil(len/C) chunks at o[1..].
    function _sum(W memory w, Loc memory lc, Opening[] calldata o) private pure returns (int256 acc, uint256 accAbs) {
        return _sumFrom(w, lc, o, 1);
    }

    /// @dev Σ of the whole row `lc`, opened as ceil(len/C) consecutive chunks from o[first].
    function _sumFrom(W memory w, Loc memory lc, Opening[] calldata o, uint256 first)
        private
        pure
        returns (int256 acc, uint256 accAbs)
    {
        uint256 chunks = StepLayout.ceilDiv(lc.rowLen, w.m.C);
        for (lc.chunk = 0; lc.chunk < chunks; ++lc.chunk) {
            Opening calldata oc = o[first + lc.chunk];
            uint256 n = _open(w, lc, oc);
            (int256 s, uint256 sAbs, bool ok) = StepOps.sum(oc.chunk, StepLayout.STEP_DTYPE, n);
            if (!ok) _malformed(lc);
            acc += s;
            accAbs += sAbs;
        }
    }

    // ---- Openings.

    /// @dev Verify `op` is the leaf at `lc` and has the committed length; returns the element count.
    function _open(W memory w, Loc memory lc, Opening calldata op) private pure returns (uint256 n) {
        (bytes32 root, bytes32 domain, uint8 dtype) = _source(w, lc.src);
        // INVARIANT: tokens come from the client's prompt root and the committed output root, the
        // commitments the client checks, never from the trace root's own token leaves.
        if (lc.src == SRC_TRACE && lc.tensor == CommitmentLeaf.TOKEN_TENSOR) {
            root = lc.row < w.inputTokens ? w.promptRoot : w.outputRoot;
        }
        CommitmentLeaf.verifyChunk(root, domain, lc.tensor, lc.row, lc.chunk, op.chunk, op.proof);
        uint256 start = lc.chunk * w.m.C;
        n = lc.rowLen - start < w.m.C ? lc.rowLen - start : w.m.C;
        if (lc.src == SRC_WEIGHTS && lc.tensor == StepLayout.W_ROPE_FREQ) dtype = 2; // always binary32
        uint256 width = lc.tensor == CommitmentLeaf.TOKEN_TENSOR && lc.src == SRC_TRACE ? 4 : (dtype == 1 ? 2 : 4);
        if (op.chunk.length != n * width) _malformed(lc);
    }

    function _malformed(Loc memory lc) private pure {
        if (lc.src == SRC_WEIGHTS) revert WeightsMalformed(lc.tensor, lc.row, lc.chunk);
        revert ProverCommitmentMalformed(lc.src, lc.tensor, lc.row, lc.chunk);
    }

    function _source(W memory w, uint8 src) private pure returns (bytes32 root, bytes32 domain, uint8 dtype) {
        if (src == SRC_TRACE) return (w.traceRoot, CommitmentLeaf.TRACE_DOMAIN, w.traceDtype);
        if (src == SRC_WEIGHTS) return (w.weightsRoot, CommitmentLeaf.WEIGHTS_DOMAIN, w.weightsDtype);
        return (w.stepRoot, CommitmentLeaf.STEP_DOMAIN, StepLayout.STEP_DTYPE);
    }

    function _dtype(W memory w, uint8 src) private pure returns (uint8) {
        return src == SRC_TRACE ? w.traceDtype : (src == SRC_WEIGHTS ? w.weightsDtype : StepLayout.STEP_DTYPE);
    }

    function _elem(W memory w, Loc memory lc, bytes calldata data, uint256 i) private pure returns (int256 v) {
        bool ok;
        uint8 dtype = lc.src == SRC_WEIGHTS && lc.tensor == StepLayout.W_ROPE_FREQ ? 2 : _dtype(w, lc.src);
        (v, ok) = FixedMath.elementAt(data, dtype, i);
        if (!ok) _malformed(lc);
    }

    /// @dev Open the chunk holding element `col` of a row and decode that element.
    function _one(W memory w, Loc memory lc, uint256 col, Opening calldata op) private pure returns (int256) {
        lc.chunk = col / w.m.C;
        _open(w, lc, op);
        return _elem(w, lc, op.chunk, col % w.m.C);
    }
}
