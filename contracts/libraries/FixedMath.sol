// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title Fixed-point arithmetic of the step-proof judge (docs/PROTOCOL.md §6.3–§6.4)
/// @notice Every committed value decodes to an int256 with 48 fractional bits ("Q48"):
/// binary16 exactly, binary32 exactly down to 2^-48 (magnitude truncated toward zero below).
/// Non-linear functions work internally with 64 fractional bits ("Q64") and are mirrored
/// operation for operation by `protocol/evaluator/fixed.ts`, so both give identical integers.
/// @dev Signed `>>` rounds toward −∞ and `/` toward zero in Solidity and in JS BigInt alike;
/// the mirror relies on that. Arithmetic is checked: an overflow reverts (PROTOCOL §6.5 explains
/// why the first wrong element of a step never overflows).
library FixedMath {
    /// Fractional bits of every decoded value.
    uint256 internal constant FRAC = 48;
    int256 internal constant ONE = int256(1) << 48;
    int256 internal constant ONE64 = int256(1) << 64;
    /// floor(ln 2 · 2^64) and floor(π · 2^64).
    int256 internal constant LN2_Q64 = 0xB17217F7D1CF79AB;
    int256 internal constant PI_Q64 = 0x3243F6A8885A308D3;
    int256 internal constant TWO_PI_Q64 = 2 * PI_Q64;
    /// exp arguments above this are rejected (an honest softmax shift keeps them ≤ 0).
    int256 internal constant EXP_MAX = int256(32) << 48;
    /// exp arguments below this return 0 (e^-40 < 2^-57).
    int256 internal constant EXP_MIN = -(int256(40) << 48);
    /// Taylor terms of exp on |r| ≤ ln2/2 and of sin/cos on |a| ≤ π.
    int256 internal constant EXP_TERMS = 18;
    int256 internal constant TRIG_TERMS = 17;

    /// @notice binary16 bits → Q48 (always exact). `ok` is false for ±Inf and NaN.
    function decodeF16(uint256 bits) internal pure returns (int256 v, bool ok) {
        uint256 e = (bits >> 10) & 31;
        uint256 m = bits & 1023;
        if (e == 31) return (0, false);
        // value = m·2^-24 (subnormal) or (1024+m)·2^(e-25); times 2^48.
        uint256 mag = e == 0 ? m << 24 : (m | 1024) << (e + 23);
        v = (bits & 0x8000) != 0 ? -int256(mag) : int256(mag);
        ok = true;
    }

    /// @notice binary32 bits → Q48, magnitude truncated toward zero below 2^-48. `ok` is false
    /// for Inf, NaN and |value| ≥ 2^64 (no honest activation is that large).
    function decodeF32(uint256 bits) internal pure returns (int256 v, bool ok) {
        uint256 e = (bits >> 23) & 255;
        if (e >= 191) return (0, false);
        uint256 mag;
        if (e != 0) {
            // value = (2^23 + m)·2^(e-150); times 2^48 = full·2^(e-102).
            uint256 full = (bits & 0x7fffff) | 0x800000;
            mag = e >= 102 ? full << (e - 102) : full >> (102 - e);
        }
        // Subnormals (e == 0) are below 2^-126 and truncate to 0.
        v = (bits & 0x80000000) != 0 ? -int256(mag) : int256(mag);
        ok = true;
    }

    /// @notice Element `i` of a little-endian chunk of `dtype` (1 = binary16, 2 = binary32).
    /// @dev The caller has checked that the chunk holds at least i+1 elements.
    function elementAt(bytes calldata chunk, uint8 dtype, uint256 i) internal pure returns (int256 v, bool ok) {
        uint256 bits;
        if (dtype == 1) {
            assembly ("memory-safe") {
                let w := calldataload(add(chunk.offset, shl(1, i)))
                bits := or(byte(0, w), shl(8, byte(1, w)))
            }
            return decodeF16(bits);
        }
        assembly ("memory-safe") {
            let w := calldataload(add(chunk.offset, shl(2, i)))
            bits := or(or(byte(0, w), shl(8, byte(1, w))), or(shl(16, byte(2, w)), shl(24, byte(3, w))))
        }
        return decodeF32(bits);
    }

    /// @notice e^X for X in Q64 with −58·ln2 ≲ X ≤ 47·ln2, result in Q64.
    /// @dev X = k·ln2 + r with k rounded half away from zero, so |r| ≤ ln2/2; e^r by 18 Taylor
    /// terms (remainder < 2^-70); then a shift by k. Error ≤ 2^-60 relative + 20 Q64 ulps.
    function expQ64(int256 x) internal pure returns (int256) {
        int256 k = x >= 0 ? (x + LN2_Q64 / 2) / LN2_Q64 : -((-x + LN2_Q64 / 2) / LN2_Q64);
        int256 r = x - k * LN2_Q64;
        int256 sum = ONE64;
        int256 term = ONE64;
        // |r| ≤ 2^63 and |term| ≤ 2^64, so term·r < 2^127; sum < 2^65: no overflow.
        unchecked {
            for (int256 i = 1; i <= EXP_TERMS; ++i) {
                term = (term * r) / (i * ONE64);
                sum += term;
            }
        }
        return k >= 0 ? sum << uint256(k) : sum >> uint256(-k);
    }

    /// @notice e^x for x in Q48; `ok` is false above EXP_MAX; 0 below EXP_MIN.
    function expQ48(int256 x) internal pure returns (int256 y, bool ok) {
        if (x > EXP_MAX) return (0, false);
        if (x < EXP_MIN) return (0, true);
        return (expQ64(x << 16) >> 16, true);
    }

    /// @notice 1/√y for y > 0 in Q48: floor(√(floor(2^144 / y))), within 1 ulp of exact.
    function rsqrtQ48(int256 y) internal pure returns (int256) {
        return int256(Math.sqrt((uint256(1) << 144) / uint256(y)));
    }

    /// @notice 1/√n for a positive integer n, in Q48.
    function invSqrtIntQ48(uint256 n) internal pure returns (int256) {
        return int256(Math.sqrt((uint256(1) << 96) / n));
    }

    /// @notice ln(b) for an integer b ≥ 1, in Q64, by the binary logarithm's squaring method.
    function lnIntQ64(uint256 b) internal pure returns (int256) {
        uint256 n = Math.log2(b);
        uint256 y = (b << 64) >> n; // b / 2^n in Q64, in [1, 2)
        uint256 frac;
        // y < 2^65 throughout, so y·y < 2^130: no overflow.
        unchecked {
            for (uint256 i = 0; i < 64; ++i) {
                y = (y * y) >> 64;
                if (y >= (uint256(2) << 64)) {
                    y >>= 1;
                    frac |= uint256(1) << (63 - i);
                }
            }
        }
        return int256((((n << 64) + frac) * uint256(LN2_Q64)) >> 64);
    }

    /// Gumbel noise (PROTOCOL §6.4): w < 2^53; the 2·atanh series branch takes w ≥ 2^52 (u ≥ 1/2).
    uint256 internal constant W53 = uint256(1) << 53;
    uint256 internal constant GUMBEL_TERMS = 20;

    /// @notice g = −ln(−ln u), u = (2w + 1) / 2^54, in Q48, for w < 2^53 (one uniform draw of
    /// §4.4). Error < 2^-47 against the real value (PROTOCOL §6.4).
    /// @dev x = −ln u is computed in Q127 so its relative error stays ≈ 2^-57 even at
    /// x ≈ 2^-54 (w near 2^53): for u < 1/2 as 54·ln2 − ln(2w+1) (x ≥ ln2, no cancellation);
    /// for u ≥ 1/2 as ln(2^54 / b) = 2·atanh(s), s = m / (2^55 − m), m = 2^54 − b < 2^53, so
    /// s < 1/3 and 20 terms leave a remainder below 9^-20 < 2^-63 relative. Then
    /// g = −ln(X / 2^127) = 127·ln2 − ln X.
    function gumbelQ48(uint256 w) internal pure returns (int256) {
        uint256 b = 2 * w + 1;
        uint256 x;
        if (w < W53 >> 1) {
            x = uint256(54 * LN2_Q64 - lnIntQ64(b)) << 63;
        } else {
            uint256 m = (uint256(1) << 54) - b; // reverts for w ≥ 2^53
            uint256 s = (m << 127) / ((uint256(1) << 55) - m);
            // s < 2^127 / 3, so s·s and term·s2 < 2^254; sum < 1.1·s: no overflow.
            unchecked {
                uint256 s2 = (s * s) >> 127;
                uint256 term = s;
                uint256 sum = s;
                for (uint256 k = 1; k <= GUMBEL_TERMS; ++k) {
                    term = (term * s2) >> 127;
                    sum += term / (2 * k + 1);
                }
                x = sum << 1;
            }
        }
        return (127 * LN2_Q64 - lnIntQ64(x)) >> 16;
    }

    /// @notice RoPE inverse frequency base^(-2k/hd) in Q64.
    function ropeInvFreqQ64(uint256 base, uint256 k, uint256 hd) internal pure returns (int256) {
        int256 arg = (int256(2 * k) * lnIntQ64(base)) / int256(hd);
        return expQ64(-arg);
    }

    /// @notice (cos a, sin a) in Q64 for an angle a ≥ 0 in Q64, reduced to (−π, π] first.
    function cosSinQ64(int256 angle) internal pure returns (int256 c, int256 s) {
        int256 a = angle % TWO_PI_Q64;
        if (a > PI_Q64) a -= TWO_PI_Q64;
        int256 a2 = (a * a) >> 64;
        int256 ts = a;
        int256 tc = ONE64;
        s = a;
        c = ONE64;
        // |a| ≤ π·2^64 < 2^66, a2 < 2^68, |ts|, |tc| < 2^68 (π^k/k! < 6): products < 2^136.
        unchecked {
            for (int256 i = 1; i <= TRIG_TERMS; ++i) {
                ts = -((ts * a2) >> 64) / ((2 * i) * (2 * i + 1));
                tc = -((tc * a2) >> 64) / ((2 * i - 1) * (2 * i));
                s += ts;
                c += tc;
            }
        }
    }

    /// @notice SiLU(g) = g·σ(g) in Q48, σ(|g|) = 2^96 / (2^48 + e^-|g|).
    function siluQ48(int256 g) internal pure returns (int256) {
        int256 a = g >= 0 ? g : -g;
        (int256 e,) = expQ48(-a); // argument ≤ 0 never exceeds EXP_MAX
        int256 sa = (ONE * ONE) / (ONE + e);
        int256 sig = g >= 0 ? sa : ONE - sa;
        return (g * sig) >> 48;
    }

    function abs(int256 x) internal pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }

    /// @notice The tolerance rule of PROTOCOL §6.1: |claimed − ref| ≤ atol + rtol·mag, with
    /// atol, rtol in Q32.32 and claimed, ref, mag in Q48. Returns (within, bound in Q48).
    function within(int256 claimed, int256 ref, uint256 mag, uint64 atol, uint64 rtol)
        internal
        pure
        returns (bool ok, uint256 bound)
    {
        bound = (uint256(atol) << 16) + ((uint256(rtol) * mag) >> 32);
        ok = abs(claimed - ref) <= bound;
    }
}
