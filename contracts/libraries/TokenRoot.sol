// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {CommitmentLeaf} from "./CommitmentLeaf.sol";

/// @title Token roots: a job's prompt and output as Merkle roots over token leaves
/// (docs/PROTOCOL.md §3.4)
/// @notice A token at absolute position `t` with id `v` is the trace's token leaf:
/// `CommitmentLeaf.leaf(TRACE_DOMAIN, TOKEN_TENSOR, t, 0, keccak256(uint32le(v)))`. A run of tokens
/// at positions `first .. first+n-1` is committed by the §3.3 tree over their leaves in position
/// order (sorted pairs, odd node promoted). `promptRoot` is the root of the prompt at first = 0,
/// `outputRoot` that of the generated tokens at first = P. TypeScript mirror:
/// `protocol/commitments/token-root.ts` (differential-tested).
library TokenRoot {
    /// The encoding is not a positive whole number of uint32 ids.
    error InvalidTokenBytes(uint256 length);
    error InvalidTokenProof(bytes32 root, uint256 position, uint32 id);

    /// @notice The leaf of token `id` at absolute position `position`.
    function leaf(uint256 position, uint32 id) internal pure returns (bytes32) {
        return CommitmentLeaf.leaf(
            CommitmentLeaf.TRACE_DOMAIN, CommitmentLeaf.TOKEN_TENSOR, position, 0, keccak256(abi.encodePacked(_le(id)))
        );
    }

    /// @notice Root over `tokens` (uint32 big-endian ids, concatenated) at positions from `firstPosition`.
    /// @dev Reverts `InvalidTokenBytes` unless `tokens.length` is a positive multiple of 4.
    function root(bytes memory tokens, uint256 firstPosition) internal pure returns (bytes32) {
        if (tokens.length == 0 || tokens.length % 4 != 0) revert InvalidTokenBytes(tokens.length);
        uint256 n = tokens.length / 4;
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            level[i] = leaf(firstPosition + i, idAt(tokens, i));
        }
        // Reduce in place: level k+1 occupies the first ceil(len/2) slots of level k.
        while (n > 1) {
            uint256 half = n / 2;
            for (uint256 i; i < half; ++i) {
                level[i] = _hashPair(level[2 * i], level[2 * i + 1]);
            }
            // Odd node at the end of a level is promoted unchanged (§3.3).
            if (n % 2 == 1) {
                level[half] = level[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
        }
        return level[0];
    }

    /// @notice The `index`-th id of a uint32 big-endian encoding. The caller keeps `index` in range.
    function idAt(bytes memory tokens, uint256 index) internal pure returns (uint32 id) {
        // INVARIANT: 4·index + 4 ≤ tokens.length (checked by callers), so the load stays inside the array.
        assembly ("memory-safe") {
            id := shr(224, mload(add(add(tokens, 32), mul(index, 4))))
        }
    }

    /// @notice Reverts `InvalidTokenProof` unless token `id` at `position` is under `root_`.
    function verify(bytes32 root_, uint256 position, uint32 id, bytes32[] calldata proof) internal pure {
        if (!MerkleProof.verifyCalldata(proof, root_, leaf(position, id))) revert InvalidTokenProof(root_, position, id);
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    /// @dev Byte-swap: the chunk bytes of a token leaf are the id as uint32 little-endian (§3.4).
    function _le(uint32 v) private pure returns (uint32) {
        v = ((v & 0x00ff00ff) << 8) | ((v >> 8) & 0x00ff00ff);
        return (v << 16) | (v >> 16);
    }
}
