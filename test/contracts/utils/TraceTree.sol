// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {CommitmentLeaf} from "../../../contracts/libraries/CommitmentLeaf.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";

/// @notice A job's honest trace tree built in Solidity (PROTOCOL §3.3–§3.4), so audit tests can
/// commit a real root and prove any probe leaf against it with OpenZeppelin's `MerkleProof`.
/// Leaves in canonical order: the N token leaves by position, then hidden states h[t][l] for
/// t = 0..N−2, l = 0..L, chunk 0..chunks−1. Chunk contents are arbitrary bytes derived from a
/// salt: the contracts only ever see their hash.
library TraceTree {
    struct Shape {
        uint256 tokens; // N = inputTokens + outputTokens
        uint256 layers; // L
        uint256 chunks; // ceil(hidden / chunkSize)
    }

    /// @notice The bytes of chunk `chunk` of h[row][layer] in the trace identified by `salt`.
    function chunkBytes(bytes32 salt, uint256 layer, uint256 row, uint256 chunk) internal pure returns (bytes memory) {
        return abi.encodePacked(salt, uint32(layer), uint32(row), uint32(chunk));
    }

    function leaves(bytes32 salt, Shape memory s) internal pure returns (bytes32[] memory out) {
        uint256 hiddenRows = s.tokens - 1;
        out = new bytes32[](s.tokens + hiddenRows * (s.layers + 1) * s.chunks);
        uint256 k;
        for (uint256 t; t < s.tokens; ++t) out[k++] = TokenRoot.leaf(t, uint32(uint256(keccak256(abi.encode(salt, t))) % 259));
        for (uint256 t; t < hiddenRows; ++t) {
            for (uint256 l; l <= s.layers; ++l) {
                for (uint256 c; c < s.chunks; ++c) {
                    out[k++] = CommitmentLeaf.leaf(CommitmentLeaf.TRACE_DOMAIN, l, t, c, keccak256(chunkBytes(salt, l, t, c)));
                }
            }
        }
    }

    /// @notice Index of h[row][layer] chunk `chunk` among `leaves(salt, s)`.
    function hiddenIndex(Shape memory s, uint256 layer, uint256 row, uint256 chunk) internal pure returns (uint256) {
        return s.tokens + (row * (s.layers + 1) + layer) * s.chunks + chunk;
    }

    /// @notice Root of the sorted-pair tree with odd nodes promoted unchanged (§3.3).
    function root(bytes32[] memory level) internal pure returns (bytes32) {
        uint256 n = level.length;
        bytes32[] memory work = new bytes32[](n);
        for (uint256 i; i < n; ++i) work[i] = level[i];
        while (n > 1) {
            uint256 half = n / 2;
            for (uint256 i; i < half; ++i) work[i] = _hashPair(work[2 * i], work[2 * i + 1]);
            if (n % 2 == 1) {
                work[half] = work[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
        }
        return work[0];
    }

    /// @notice Sibling path of leaf `index`; a promoted node contributes no sibling at its level.
    function proof(bytes32[] memory level, uint256 index) internal pure returns (bytes32[] memory path) {
        uint256 n = level.length;
        bytes32[] memory work = new bytes32[](n);
        for (uint256 i; i < n; ++i) work[i] = level[i];
        bytes32[] memory buffer = new bytes32[](64);
        uint256 depth;
        while (n > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < n) buffer[depth++] = work[sibling];
            uint256 half = n / 2;
            for (uint256 i; i < half; ++i) work[i] = _hashPair(work[2 * i], work[2 * i + 1]);
            if (n % 2 == 1) {
                work[half] = work[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
            index /= 2;
        }
        path = new bytes32[](depth);
        for (uint256 i; i < depth; ++i) path[i] = buffer[i];
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }
}
