// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {OpCodes} from "./OpCodes.sol";

/// @title Layout of a step root (docs/PROTOCOL.md §7.2)
/// @notice Tensor ids of the intermediates a prover commits under STEP_DOMAIN for a step
/// (t, l), their shapes, and the operation code that judges each. All step values are binary32.
library StepLayout {
    // ---- Step tensor ids (STEP_DOMAIN). T = t + 1 positions, p ∈ [0, T).
    uint256 internal constant SS1_PART = 1; // rows p; partials of Σ h[p][l-1]²
    uint256 internal constant R1 = 2; // row 0, col p; rsqrt of mean square + ε
    uint256 internal constant N1 = 3; // rows p; attention-normed input
    uint256 internal constant Q_PART = 4; // rows i < H·hd; partials of Wq[i]·N1[t]
    uint256 internal constant Q_PRE = 5; // rows h; col i < hd
    uint256 internal constant Q = 6; // rows h; after RoPE at position t
    uint256 internal constant K_PART = 7; // rows p·kv + j
    uint256 internal constant K_PRE = 8; // rows p·G + g; col i < hd
    uint256 internal constant K = 9; // rows p·G + g; after RoPE at position p
    uint256 internal constant V_PART = 10; // rows p·kv + j
    uint256 internal constant V_T = 11; // rows j < kv; col p (V transposed, so attention reads a chunk of positions)
    uint256 internal constant S_PART = 12; // rows h·T + p; partials of Q[h]·K[p·G+g]
    uint256 internal constant S = 13; // rows h; col p; scaled scores
    uint256 internal constant M = 14; // row 0; col h; the prover's softmax shift (free)
    uint256 internal constant E = 15; // rows h; col p; exp(S − M)
    uint256 internal constant Z_PART = 16; // rows h; partials over position chunks
    uint256 internal constant Z = 17; // row 0; col h
    uint256 internal constant O_PART = 18; // rows h·hd + i; partials over position chunks
    uint256 internal constant O = 19; // row 0; col h·hd + i (flat, as Wo consumes it)
    uint256 internal constant WO_PART = 20; // rows i < d
    uint256 internal constant Y_O = 21; // row 0
    uint256 internal constant X1 = 22; // row 0; h[t][l-1] + Y_O
    uint256 internal constant SS2_PART = 23; // row 0
    uint256 internal constant R2 = 24; // row 0; col 0
    uint256 internal constant N2 = 25; // row 0
    uint256 internal constant G_PART = 26; // rows i < f
    uint256 internal constant G = 27; // row 0
    uint256 internal constant U_PART = 28; // rows i < f
    uint256 internal constant U = 29; // row 0
    uint256 internal constant A = 30; // row 0; SiLU(G)·U
    uint256 internal constant D_PART = 31; // rows i < d
    uint256 internal constant Y_D = 32; // row 0
    /// Claim-only ids: the claimed element lives in the trace, not in the step root.
    uint256 internal constant OUT = 33; // h[t][l][col] = X1 + Y_D
    uint256 internal constant EMBED = 0; // h[t][0][col] = embedding[token[t]][col]
    // ---- Head step (layer L + 1): SS1_PART, R1, N1 of h[t][L] with the final norm gain, then:
    uint256 internal constant LOGIT_PART = 34; // rows v < vocab; partials of LMhead[v]·N1[t]
    uint256 internal constant LOGIT = 35; // row 0; col v
    /// Claim-only: col j names a token whose logit beats the committed next token's.
    uint256 internal constant ARGMAX = 36;
    // ---- Row constraint of the layer output (block steps).
    /// rows 0, 1; col c < nd: Σ over chunk c of (h[t][l] − X1 − Y_D)² (row 0) and (X1 + Y_D)² (row 1)
    uint256 internal constant OUT_ERR_PART = 37;
    /// Claim-only (row 0, col 0): the whole row's squared error against its squared magnitude.
    uint256 internal constant OUT_ROW = 38;

    // ---- Weights kinds, tensorId = (layer << 8) | kind (PROTOCOL §3.5).
    uint256 internal constant W_EMBED = 1;
    uint256 internal constant W_FINAL_NORM = 2;
    uint256 internal constant W_LM_HEAD = 3;
    uint256 internal constant W_ATTN_NORM = 1;
    uint256 internal constant W_Q = 2;
    uint256 internal constant W_K = 3;
    uint256 internal constant W_V = 4;
    uint256 internal constant W_O = 5;
    uint256 internal constant W_MLP_NORM = 6;
    uint256 internal constant W_GATE = 7;
    uint256 internal constant W_UP = 8;
    uint256 internal constant W_DOWN = 9;
    /// Layer 0: RoPE inverse frequencies, 1 × hd/2, always binary32; committed iff the RoPE base is 0.
    uint256 internal constant W_ROPE_FREQ = 4;
    /// Layer l: q/k/v projection biases, committed iff QKV_BIAS_FLAG is set.
    uint256 internal constant W_Q_BIAS = 10;
    uint256 internal constant W_K_BIAS = 11;
    uint256 internal constant W_V_BIAS = 12;

    /// @notice The registered `ropeTheta` packs the variant (PROTOCOL §2.1): bits 0–30 the RoPE
    /// base θ (0: inverse frequencies committed in W_ROPE_FREQ, e.g. Llama-3.1's scaled RoPE),
    /// bit 31 set: q/k/v projections carry committed biases (Qwen2).
    uint256 internal constant QKV_BIAS_FLAG = 1 << 31;

    /// Element dtype of every step value (binary32).
    uint8 internal constant STEP_DTYPE = 2;

    /// @notice Dimensions of one step.
    struct Dims {
        uint256 d; // hidden
        uint256 heads; // H
        uint256 kvHeads; // G
        uint256 hd; // head dim = d / H
        uint256 kv; // G·hd
        uint256 f; // ffn
        uint256 T; // positions t + 1
        uint256 C; // chunk size
        uint256 vocab;
    }

    function ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
    }

    /// @notice (rows, row length) of a step tensor; (0, 0) for an unknown id.
    function shape(Dims memory m, uint256 tensor) internal pure returns (uint256 rows, uint256 len) {
        uint256 nd = ceilDiv(m.d, m.C);
        uint256 nT = ceilDiv(m.T, m.C);
        if (tensor == SS1_PART) return (m.T, nd);
        if (tensor == R1) return (1, m.T);
        if (tensor == N1) return (m.T, m.d);
        if (tensor == Q_PART) return (m.heads * m.hd, nd);
        if (tensor == Q_PRE || tensor == Q) return (m.heads, m.hd);
        if (tensor == K_PART || tensor == V_PART) return (m.T * m.kv, nd);
        if (tensor == K_PRE || tensor == K) return (m.T * m.kvHeads, m.hd);
        if (tensor == V_T) return (m.kv, m.T);
        if (tensor == S_PART) return (m.heads * m.T, ceilDiv(m.hd, m.C));
        if (tensor == S || tensor == E) return (m.heads, m.T);
        if (tensor == M || tensor == Z) return (1, m.heads);
        if (tensor == Z_PART) return (m.heads, nT);
        if (tensor == O_PART) return (m.heads * m.hd, nT);
        if (tensor == O) return (1, m.heads * m.hd);
        if (tensor == WO_PART) return (m.d, ceilDiv(m.heads * m.hd, m.C));
        if (tensor == Y_O || tensor == X1 || tensor == N2 || tensor == Y_D || tensor == OUT || tensor == EMBED) {
            return (1, m.d);
        }
        if (tensor == SS2_PART) return (1, nd);
        if (tensor == R2) return (1, 1);
        if (tensor == G_PART || tensor == U_PART) return (m.f, nd);
        if (tensor == G || tensor == U || tensor == A) return (1, m.f);
        if (tensor == D_PART) return (m.d, ceilDiv(m.f, m.C));
        if (tensor == LOGIT_PART) return (m.vocab, nd);
        if (tensor == LOGIT || tensor == ARGMAX) return (1, m.vocab);
        if (tensor == OUT_ERR_PART) return (2, nd);
        if (tensor == OUT_ROW) return (1, 1);
        return (0, 0);
    }

    error NotJudgeable(uint256 tensor, uint256 layer);

    /// @notice Whether (tensor, row, chunk) is a leaf of the step root of `layer` (PROTOCOL §7.2):
    /// the only leaves a challenger may demand, because an honest root holds all of them.
    function isLeaf(Dims memory m, uint256 layer, uint256 layers, uint256 tensor, uint256 row, uint256 chunk)
        internal
        pure
        returns (bool)
    {
        if (layer == 0 || layer > layers + 1) return false;
        bool inRoot = layer == layers + 1
            ? (tensor == SS1_PART || tensor == R1 || tensor == N1 || tensor == LOGIT_PART || tensor == LOGIT)
            : ((tensor >= SS1_PART && tensor <= Y_D) || tensor == OUT_ERR_PART);
        if (!inRoot) return false;
        (uint256 rows, uint256 len) = shape(m, tensor);
        return row < rows && chunk < ceilDiv(len, m.C);
    }

    /// @notice Whether trace leaf (tensorId = layer index l', row p, chunk) holds an input a
    /// claim of the step at `layer` may open (PROTOCOL §7.4): h[p][l'] with p ≤ t and
    /// l' ∈ {l − 1, l} for a block step, {L} for the head step, {0} for the embedding step.
    function isTraceLeaf(Dims memory m, uint256 layer, uint256 layers, uint256 tensor, uint256 row, uint256 chunk)
        internal
        pure
        returns (bool)
    {
        bool reach;
        if (layer == 0) reach = tensor == 0;
        else if (layer <= layers) reach = tensor == layer - 1 || tensor == layer;
        else if (layer == layers + 1) reach = tensor == layers;
        return reach && row < m.T && chunk < ceilDiv(m.d, m.C);
    }

    /// @notice Operation code that judges claims on `tensor` at layer `layer` of a model with
    /// `layers` blocks (PROTOCOL §7.2): 0 embedding, 1..L blocks, L + 1 head.
    function opOf(uint256 tensor, uint256 layer, uint256 layers) internal pure returns (uint8) {
        if (layer == 0) {
            if (tensor == EMBED) return OpCodes.EMBED;
            revert NotJudgeable(tensor, layer);
        }
        if (layer == layers + 1) {
            if (tensor == SS1_PART) return OpCodes.NORM_SUMSQ;
            if (tensor == R1) return OpCodes.NORM_RSQRT;
            if (tensor == N1) return OpCodes.NORM_SCALE;
            if (tensor == LOGIT_PART) return OpCodes.MATMUL_PARTIAL;
            if (tensor == LOGIT) return OpCodes.MATMUL_SUM;
            if (tensor == ARGMAX) return OpCodes.HEAD_ARGMAX;
            revert NotJudgeable(tensor, layer);
        }
        if (layer > layers) revert NotJudgeable(tensor, layer);
        if (tensor == SS1_PART || tensor == SS2_PART) return OpCodes.NORM_SUMSQ;
        if (tensor == R1 || tensor == R2) return OpCodes.NORM_RSQRT;
        if (tensor == N1 || tensor == N2) return OpCodes.NORM_SCALE;
        if (
            tensor == Q_PART || tensor == K_PART || tensor == V_PART || tensor == WO_PART || tensor == G_PART
                || tensor == U_PART || tensor == D_PART
        ) return OpCodes.MATMUL_PARTIAL;
        if (
            tensor == Q_PRE || tensor == K_PRE || tensor == V_T || tensor == Y_O || tensor == G || tensor == U
                || tensor == Y_D
        ) return OpCodes.MATMUL_SUM;
        if (tensor == Q || tensor == K) return OpCodes.ROPE;
        if (tensor == S_PART) return OpCodes.SCORE_PARTIAL;
        if (tensor == S) return OpCodes.SCORE_SUM;
        if (tensor == E) return OpCodes.SOFTMAX_EXP;
        if (tensor == Z_PART) return OpCodes.SOFTMAX_SUM_PARTIAL;
        if (tensor == Z) return OpCodes.SOFTMAX_SUM;
        if (tensor == O_PART) return OpCodes.ATTN_PARTIAL;
        if (tensor == O) return OpCodes.ATTN_SUM;
        if (tensor == X1) return OpCodes.RESIDUAL;
        if (tensor == A) return OpCodes.SWIGLU;
        if (tensor == OUT) return OpCodes.LAYER_OUT;
        if (tensor == OUT_ERR_PART) return OpCodes.LAYER_OUT_ERR_PARTIAL;
        if (tensor == OUT_ROW) return OpCodes.LAYER_OUT_ROW;
        revert NotJudgeable(tensor, layer);
    }
}
