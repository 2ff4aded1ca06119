// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {FixedMath} from "../libraries/FixedMath.sol";
import {IStepJudge} from "./IStepJudge.sol";

/// @title Reference values of the step operations (docs/PROTOCOL.md §6.2)
/// @notice The arithmetic of every operation family on decoded Q48 values, returning the
/// exact reference and the tolerance magnitude. `StepJudge` applies it to Merkle-opened
/// chunks; `protocol/evaluator/ops.ts` mirrors it and the differential tests compare both.
library StepOps {
    /// @notice Σ a_i·b_i (mode 0), Σ a_i² (mode 1) or Σ a_i (mode 2) over n elements of two
    /// encoded chunks, exact in Q96, returned in Q48 with Σ|terms| as magnitude.
    /// `spec` packs dtype(a) | dtype(b) << 8 | mode << 16 (one word keeps the legacy code
    /// generator under its stack limit).
    /// @dev `bad` is 0 if all values decoded, 1 if a value of `a` is invalid, 2 if one of `b` is.
    function dot(bytes calldata a, bytes calldata b, uint256 n, uint256 spec)
        internal
        pure
        returns (int256 ref, uint256 mag, uint256 bad)
    {
        int256 acc;
        uint256 accAbs;
        for (uint256 i = 0; i < n; ++i) {
            int256 p;
            (p, bad) = _term(a, b, i, spec);
            if (bad != 0) return (0, 0, bad);
            acc += p;
            accAbs += FixedMath.abs(p);
        }
        return (acc >> 48, accAbs >> 48, 0);
    }

    function _term(bytes calldata a, bytes calldata b, uint256 i, uint256 spec) private pure returns (int256, uint256) {
        (int256 x, bool okx) = FixedMath.elementAt(a, uint8(spec), i);
        if (!okx) return (0, 1);
        uint256 mode = spec >> 16;
        if (mode == 1) return (x * x, 0);
        if (mode == 2) return (x << 48, 0);
        (int256 y, bool oky) = FixedMath.elementAt(b, uint8(spec >> 8), i);
        if (!oky) return (0, 2);
        return (x * y, 0);
    }

    /// @notice Σ of n encoded values and Σ of their magnitudes (Q48); `ok` false on an invalid value.
    function sum(bytes calldata a, uint8 dt, uint256 n) internal pure returns (int256 acc, uint256 accAbs, bool ok) {
        for (uint256 i = 0; i < n; ++i) {
            (int256 v, bool okv) = FixedMath.elementAt(a, dt, i);
            if (!okv) return (0, 0, false);
            acc += v;
            accAbs += FixedMath.abs(v);
        }
        return (acc, accAbs, true);
    }

    /// @notice NORM_RSQRT: rsqrt(trunc(ss / d) + ε); `ok` false when the argument is ≤ 0.
    function rsqrt(int256 ss, uint256 d, int256 eps) internal pure returns (int256 ref, uint256 mag, bool ok) {
        int256 y = ss / int256(d) + eps;
        if (y <= 0) return (0, 0, false);
        ref = FixedMath.rsqrtQ48(y);
        return (ref, uint256(ref), true);
    }

    /// @notice NORM_SCALE: ((x·g) >> 48)·r >> 48.
    function normScale(int256 x, int256 g, int256 r) internal pure returns (int256 ref, uint256 mag) {
        ref = (((x * g) >> 48) * r) >> 48;
        mag = FixedMath.abs(ref);
    }

    /// @notice ROPE of element i (x) with its pair (y) at position `pos`.
    function rope(int256 x, int256 y, uint256 pos, uint256 i, uint256 hd, uint256 theta)
        internal
        pure
        returns (int256 ref, uint256 mag)
    {
        uint256 half = hd / 2;
        return ropeWithInvFreq(x, y, pos, i, hd, FixedMath.ropeInvFreqQ64(theta, i < half ? i : i - half, hd));
    }

    /// @notice ROPE with the pair's inverse frequency given in Q64 (a committed one, PROTOCOL §6.4).
    function ropeWithInvFreq(int256 x, int256 y, uint256 pos, uint256 i, uint256 hd, int256 invFreqQ64)
        internal
        pure
        returns (int256 ref, uint256 mag)
    {
        uint256 half = hd / 2;
        int256 angle = int256(pos) * invFreqQ64;
        (int256 c, int256 s) = FixedMath.cosSinQ64(angle);
        ref = i < half ? (x * c - y * s) >> 64 : (x * c + y * s) >> 64;
        mag = FixedMath.abs(x) + FixedMath.abs(y);
    }

    /// @notice SCORE_SUM: (Σ partials)·invSqrt(hd) >> 48.
    function scoreSum(int256 acc, uint256 accAbs, uint256 hd) internal pure returns (int256 ref, uint256 mag) {
        int256 inv = FixedMath.invSqrtIntQ48(hd);
        return ((acc * inv) >> 48, (accAbs * uint256(inv)) >> 48);
    }

    /// @notice SOFTMAX_EXP: exp(s − m); `ok` false when s − m > 32.
    function softmaxExp(int256 s, int256 m) internal pure returns (int256 ref, uint256 mag, bool ok) {
        (ref, ok) = FixedMath.expQ48(s - m);
        mag = FixedMath.abs(ref);
    }

    /// @notice ATTN_SUM: trunc(Σ partials · 2^48 / Z) for Z > 0.
    function attnSum(int256 acc, uint256 accAbs, int256 z) internal pure returns (int256 ref, uint256 mag) {
        return ((acc * FixedMath.ONE) / z, (accAbs << 48) / uint256(z));
    }

    /// @notice RESIDUAL and LAYER_OUT: a + b.
    function add(int256 a, int256 b) internal pure returns (int256 ref, uint256 mag) {
        return (a + b, FixedMath.abs(a) + FixedMath.abs(b));
    }

    /// @notice HEAD_ARGMAX, one-sided: fraud iff score[j] − score[tok] exceeds
    /// atol + rtol·(|z[j]| + |z[tok]|), score = z (greedy) or z + τ·g (sampled, §4.4).
    function argmax(int256 zj, int256 ztok, int256 sj, int256 stok, uint64 atol, uint64 rtol)
        internal
        pure
        returns (bool fraud, uint256 bound)
    {
        (, bound) = FixedMath.within(0, 0, FixedMath.abs(zj) + FixedMath.abs(ztok), atol, rtol);
        fraud = sj - stok > int256(bound);
    }

    /// @notice The sampling rule of `samplingParams` (PROTOCOL §4.4): τ in Q48 (0 = greedy) and
    /// the seed. `ok` is false for a rule the judge cannot check (top-k other than 0 and 1).
    function samplingRule(uint256 params) internal pure returns (int256 tau, uint64 seed, bool ok) {
        uint256 bits = uint32(params);
        uint256 k = uint32(params >> 32);
        seed = uint64(params >> 64);
        // Positive finite binary32: sign clear, exponent < 255, not +0.
        bool sampled = bits != 0 && bits < 0x7f800000 && k != 1;
        if (!sampled) return (0, seed, true);
        if (k != 0) return (0, seed, false);
        (tau, ok) = FixedMath.decodeF32(bits);
    }

    /// @notice w of vocabulary id v at position p: the top 53 bits of 64-bit word v mod 4 (word 0
    /// most significant) of keccak256(abi.encode(uint64 seed, uint256 p, uint256 v / 4)): keyed by
    /// the client-signed seed alone, so a batched voucher job needs no job id to be judged.
    function noiseWord(uint64 seed, uint256 p, uint256 v) internal pure returns (uint256) {
        uint256 h = uint256(keccak256(abi.encode(seed, p, v / 4)));
        return uint64(h >> (64 * (3 - (v % 4)))) >> 11;
    }

    /// @notice score = z + (τ · gumbelQ48(w)) >> 48 for a sampled rule (τ > 0), z when τ = 0.
    function score(int256 z, int256 tau, uint64 seed, uint256 p, uint256 v) internal pure returns (int256) {
        if (tau == 0) return z;
        return z + ((tau * FixedMath.gumbelQ48(noiseWord(seed, p, v))) >> 48);
    }

    /// @notice LAYER_OUT_ERR_PARTIAL: Σ (h_i − x_i − y_i)² (error row) or Σ (x_i + y_i)² (magnitude
    /// row) over n elements, exact in Q96, returned in Q48 (rounded toward −∞). `o[1]` is the trace
    /// chunk of h, `o[2]`, `o[3]` the binary32 step chunks of X1 and Y_D. The terms are
    /// non-negative, so the sum is its own magnitude. `spec` packs n | dtype(h) << 32 |
    /// errRow << 40 (one word keeps the legacy code generator under its stack limit).
    /// @dev `bad` is 0 if all values decoded, else 1, 2 or 3 for the first invalid side (h, x, y),
    /// checked per element in the order x, y, h.
    function rowErr(IStepJudge.Opening[] calldata o, uint256 spec) internal pure returns (int256 ref, uint256 bad) {
        int256 acc;
        uint256 n = uint32(spec);
        for (uint256 i = 0; i < n; ++i) {
            int256 e;
            (e, bad) = _rowTerm(o, i, spec);
            if (bad != 0) return (0, bad);
            acc += e * e;
        }
        return (acc >> 48, 0);
    }

    function _rowTerm(IStepJudge.Opening[] calldata o, uint256 i, uint256 spec) private pure returns (int256, uint256) {
        (int256 xv, bool ok) = FixedMath.elementAt(o[2].chunk, 2, i);
        if (!ok) return (0, 2);
        int256 yv;
        (yv, ok) = FixedMath.elementAt(o[3].chunk, 2, i);
        if (!ok) return (0, 3);
        xv += yv;
        if ((spec >> 40) & 1 == 0) return (xv, 0);
        (yv, ok) = FixedMath.elementAt(o[1].chunk, uint8(spec >> 32), i);
        if (!ok) return (0, 1);
        return (yv - xv, 0);
    }

    /// @notice SWIGLU: (SiLU(g)·u) >> 48.
    function swiglu(int256 g, int256 u) internal pure returns (int256 ref, uint256 mag) {
        ref = (FixedMath.siluQ48(g) * u) >> 48;
        mag = FixedMath.abs(ref);
    }
}
