// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {FixedMath} from "../../libraries/FixedMath.sol";
import {StepOps} from "../../dispute/StepOps.sol";
import {IStepJudge} from "../../dispute/IStepJudge.sol";

/// @notice Batch entry points over FixedMath and StepOps for the TypeScript-vs-EVM
/// differential tests: thousands of cases per eth_call.
contract StepOpsHarness {
    function decodeBatch(uint256[] calldata bits, uint8 dtype) external pure returns (int256[] memory v, bool[] memory ok) {
        v = new int256[](bits.length);
        ok = new bool[](bits.length);
        for (uint256 i = 0; i < bits.length; ++i) {
            (v[i], ok[i]) = dtype == 1 ? FixedMath.decodeF16(bits[i]) : FixedMath.decodeF32(bits[i]);
        }
    }

    function dotBatch(bytes[] calldata a, bytes[] calldata b, uint256[] calldata n, uint256[] calldata spec)
        external
        pure
        returns (int256[] memory ref, uint256[] memory mag, uint256[] memory bad)
    {
        ref = new int256[](a.length);
        mag = new uint256[](a.length);
        bad = new uint256[](a.length);
        for (uint256 i = 0; i < a.length; ++i) {
            (ref[i], mag[i], bad[i]) = StepOps.dot(a[i], b[i], n[i], spec[i]);
        }
    }

    /// @notice LAYER_OUT_ERR_PARTIAL: each case is [claimed (unused), h, x1, y_d] openings.
    function rowErrBatch(IStepJudge.Opening[][] calldata cases, uint256[] calldata spec)
        external
        pure
        returns (int256[] memory ref, uint256[] memory bad)
    {
        ref = new int256[](cases.length);
        bad = new uint256[](cases.length);
        for (uint256 i = 0; i < cases.length; ++i) {
            (ref[i], bad[i]) = StepOps.rowErr(cases[i], spec[i]);
        }
    }

    function sumBatch(bytes[] calldata a, uint8 dt, uint256[] calldata n)
        external
        pure
        returns (int256[] memory acc, uint256[] memory accAbs, bool[] memory ok)
    {
        acc = new int256[](a.length);
        accAbs = new uint256[](a.length);
        ok = new bool[](a.length);
        for (uint256 i = 0; i < a.length; ++i) {
            (acc[i], accAbs[i], ok[i]) = StepOps.sum(a[i], dt, n[i]);
        }
    }

    /// @notice kind: 0 rsqrt(a, uint(b), c), 1 normScale(a, b, c), 2 scoreSum(a, uint(b), uint(c)),
    /// 3 softmaxExp(a, b), 4 attnSum(a, uint(b), c), 5 add(a, b), 6 swiglu(a, b).
    function opBatch(uint256 kind, int256[] calldata a, int256[] calldata b, int256[] calldata c)
        external
        pure
        returns (int256[] memory ref, uint256[] memory mag, bool[] memory ok)
    {
        ref = new int256[](a.length);
        mag = new uint256[](a.length);
        ok = new bool[](a.length);
        for (uint256 i = 0; i < a.length; ++i) {
            ok[i] = true;
            if (kind == 0) (ref[i], mag[i], ok[i]) = StepOps.rsqrt(a[i], uint256(b[i]), c[i]);
            else if (kind == 1) (ref[i], mag[i]) = StepOps.normScale(a[i], b[i], c[i]);
            else if (kind == 2) (ref[i], mag[i]) = StepOps.scoreSum(a[i], uint256(b[i]), uint256(c[i]));
            else if (kind == 3) (ref[i], mag[i], ok[i]) = StepOps.softmaxExp(a[i], b[i]);
            else if (kind == 4) (ref[i], mag[i]) = StepOps.attnSum(a[i], uint256(b[i]), c[i]);
            else if (kind == 5) (ref[i], mag[i]) = StepOps.add(a[i], b[i]);
            else (ref[i], mag[i]) = StepOps.swiglu(a[i], b[i]);
        }
    }

    /// @notice p packs pos | i << 64 | hd << 128 | theta << 192.
    function ropeBatch(int256[] calldata x, int256[] calldata y, uint256[] calldata p)
        external
        pure
        returns (int256[] memory ref, uint256[] memory mag)
    {
        ref = new int256[](x.length);
        mag = new uint256[](x.length);
        for (uint256 i = 0; i < x.length; ++i) {
            uint256 q = p[i];
            (ref[i], mag[i]) = StepOps.rope(
                x[i], y[i], uint64(q), uint64(q >> 64), uint64(q >> 128), uint64(q >> 192)
            );
        }
    }

    /// @notice p packs pos | i << 64 | hd << 128; f is the inverse frequency in Q64.
    function ropeWithInvFreqBatch(int256[] calldata x, int256[] calldata y, uint256[] calldata p, int256[] calldata f)
        external
        pure
        returns (int256[] memory ref, uint256[] memory mag)
    {
        ref = new int256[](x.length);
        mag = new uint256[](x.length);
        for (uint256 i = 0; i < x.length; ++i) {
            uint256 q = p[i];
            (ref[i], mag[i]) = StepOps.ropeWithInvFreq(x[i], y[i], uint64(q), uint64(q >> 64), uint64(q >> 128), f[i]);
        }
    }

    /// @notice StepOps.argmax over (z j, z tok, score j, score tok, atol, rtol).
    function argmaxBatch(
        int256[] calldata zj,
        int256[] calldata ztok,
        int256[] calldata sj,
        int256[] calldata stok,
        uint64[] calldata atol,
        uint64[] calldata rtol
    ) external pure returns (bool[] memory fraud, uint256[] memory bound) {
        fraud = new bool[](zj.length);
        bound = new uint256[](zj.length);
        for (uint256 i = 0; i < zj.length; ++i) {
            (fraud[i], bound[i]) = StepOps.argmax(zj[i], ztok[i], sj[i], stok[i], atol[i], rtol[i]);
        }
    }

    function gumbelBatch(uint256[] calldata w) external pure returns (int256[] memory g) {
        g = new int256[](w.length);
        for (uint256 i = 0; i < w.length; ++i) {
            g[i] = FixedMath.gumbelQ48(w[i]);
        }
    }

    /// @notice (noiseWord, score) of (z, samplingParams, p, v); `ok` false for an unverifiable rule.
    function scoreBatch(
        int256[] calldata z,
        uint256[] calldata params,
        uint256[] calldata p,
        uint256[] calldata v
    ) external pure returns (uint256[] memory w, int256[] memory s, bool[] memory ok) {
        w = new uint256[](z.length);
        s = new int256[](z.length);
        ok = new bool[](z.length);
        for (uint256 i = 0; i < z.length; ++i) {
            (w[i], s[i], ok[i]) = _score(z[i], params[i], p[i], v[i]);
        }
    }

    function _score(int256 z, uint256 params, uint256 p, uint256 v) private pure returns (uint256 w, int256 s, bool ok) {
        (int256 tau, uint64 seed, bool good) = StepOps.samplingRule(params);
        w = StepOps.noiseWord(seed, p, v);
        if (good) s = StepOps.score(z, tau, seed, p, v);
        ok = good;
    }

    function withinBatch(
        int256[] calldata claimed,
        int256[] calldata ref,
        uint256[] calldata mag,
        uint64[] calldata atol,
        uint64[] calldata rtol
    ) external pure returns (bool[] memory ok, uint256[] memory bound) {
        ok = new bool[](claimed.length);
        bound = new uint256[](claimed.length);
        for (uint256 i = 0; i < claimed.length; ++i) {
            (ok[i], bound[i]) = FixedMath.within(claimed[i], ref[i], mag[i], atol[i], rtol[i]);
        }
    }
}
