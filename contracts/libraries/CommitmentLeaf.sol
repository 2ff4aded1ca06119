// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Commitment leaves and proofs (docs/PROTOCOL.md §3.2–§3.3)
/// @notice One leaf commits one chunk of one row of one tensor. Trace, weights and step trees
/// share this layout and differ only in their domain tag.
library CommitmentLeaf {
    bytes32 internal constant TRACE_DOMAIN = keccak256("stepproof.trace.v1");
    bytes32 internal constant WEIGHTS_DOMAIN = keccak256("stepproof.weights.v1");
    bytes32 internal constant STEP_DOMAIN = keccak256("stepproof.step.v1");
    uint256 internal constant TOKEN_TENSOR = type(uint32).max;

    error InvalidChunkProof(bytes32 domain, uint256 tensorId, uint256 row, uint256 chunkIndex);

    /// @notice leaf = keccak256(keccak256(abi.encode(domain, tensorId, row, chunkIndex, chunkHash))).
    /// @dev Hashed twice so that no leaf preimage is 64 bytes (second-preimage safety).
    function leaf(bytes32 domain, uint256 tensorId, uint256 row, uint256 chunkIndex, bytes32 chunkHash)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(domain, tensorId, row, chunkIndex, chunkHash))));
    }

    /// @notice Reverts with `InvalidChunkProof` unless `chunk` is committed under `root`.
    function verifyChunk(
        bytes32 root,
        bytes32 domain,
        uint256 tensorId,
        uint256 row,
        uint256 chunkIndex,
        bytes calldata chunk,
        bytes32[] calldata proof
    ) internal pure {
        bytes32 l = leaf(domain, tensorId, row, chunkIndex, keccak256(chunk));
        if (!MerkleProof.verifyCalldata(proof, root, l)) {
            revert InvalidChunkProof(domain, tensorId, row, chunkIndex);
        }
    }
}
