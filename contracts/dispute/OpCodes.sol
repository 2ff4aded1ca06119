// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Operation codes of the step-proof game (docs/PROTOCOL.md §6.2)
/// @notice One code per kind of judged element. The model registry stores one
/// `OpTolerance` per code, so `COUNT` is the registry's `OP_COUNT`.
/// @dev Codes are part of the protocol: never renumber, only append.
library OpCodes {
    /// h[t][0][i] equals the committed embedding row of token[t].
    uint8 internal constant EMBED = 0;
    /// One chunk's partial of Σ x² (RMSNorm input).
    uint8 internal constant NORM_SUMSQ = 1;
    /// r = rsqrt(Σ partials / d + ε).
    uint8 internal constant NORM_RSQRT = 2;
    /// n_i = x_i · g_i · r.
    uint8 internal constant NORM_SCALE = 3;
    /// One chunk's partial of a weight row · input vector (Q, K, V, O, gate, up, down).
    uint8 internal constant MATMUL_PARTIAL = 4;
    /// A projection output equals the sum of its committed partials.
    uint8 internal constant MATMUL_SUM = 5;
    /// Rotary position embedding of one query/key element.
    uint8 internal constant ROPE = 6;
    /// One chunk's partial of q_h · k_p.
    uint8 internal constant SCORE_PARTIAL = 7;
    /// s_hp = Σ partials / √hd.
    uint8 internal constant SCORE_SUM = 8;
    /// e_hp = exp(s_hp − m_h) with the prover's shift m_h.
    uint8 internal constant SOFTMAX_EXP = 9;
    /// One chunk's partial of the normalizer Σ_p e_hp.
    uint8 internal constant SOFTMAX_SUM_PARTIAL = 10;
    /// Z_h = Σ partials.
    uint8 internal constant SOFTMAX_SUM = 11;
    /// One chunk (of positions) of Σ_p e_hp · v_p.
    uint8 internal constant ATTN_PARTIAL = 12;
    /// o = Σ partials / Z_h.
    uint8 internal constant ATTN_SUM = 13;
    /// x1 = h[t][l-1] + attention output projection.
    uint8 internal constant RESIDUAL = 14;
    /// a = SiLU(gate) · up.
    uint8 internal constant SWIGLU = 15;
    /// h[t][l] (trace) = x1 + down projection: the one check that compares a recomputed
    /// step with the originally generated trace, so its tolerance covers cross-setup drift.
    uint8 internal constant LAYER_OUT = 16;
    /// Head step: the committed next token's score (logit, plus τ·Gumbel noise for sampled jobs,
    /// PROTOCOL §4.4) is not beaten by another token's score by more than the tolerance.
    uint8 internal constant HEAD_ARGMAX = 17;

    /// One chunk's partial of the layer output's squared error Σ (h − x1 − y_d)² (row 0) or of
    /// its reference magnitude Σ (x1 + y_d)² (row 1): exact sums of the committed values.
    uint8 internal constant LAYER_OUT_ERR_PARTIAL = 18;
    /// The whole row of h[t][l]: Σ squared error ≤ atol + rtol · Σ squared magnitude. Bounds the
    /// aggregate slack that per-element LAYER_OUT tolerances leave (PROTOCOL §7.6).
    uint8 internal constant LAYER_OUT_ROW = 19;

    /// Number of operation codes = IModelRegistry.OP_COUNT.
    uint8 internal constant COUNT = 20;
}
