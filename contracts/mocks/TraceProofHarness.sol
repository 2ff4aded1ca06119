// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {CommitmentLeaf} from "../libraries/CommitmentLeaf.sol";

/// @title Test harness for trace and weight proofs (docs/PROTOCOL.md §3.2–§3.4)
/// @notice Exposes the library checks the dispute game uses so TypeScript tests can prove that
/// runtime-built proofs verify in the EVM. Not deployed in production.
contract TraceProofHarness {
    /// @notice Reverts with CommitmentLeaf.InvalidChunkProof unless `chunk` is under `root`.
    function verifyChunk(
        bytes32 root,
        bytes32 domain,
        uint256 tensorId,
        uint256 row,
        uint256 chunkIndex,
        bytes calldata chunk,
        bytes32[] calldata proof
    ) external pure returns (bool) {
        CommitmentLeaf.verifyChunk(root, domain, tensorId, row, chunkIndex, chunk, proof);
        return true;
    }

    /// @notice The §3.2 leaf of a chunk.
    function leafOf(bytes32 domain, uint256 tensorId, uint256 row, uint256 chunkIndex, bytes calldata chunk)
        external
        pure
        returns (bytes32)
    {
        return CommitmentLeaf.leaf(domain, tensorId, row, chunkIndex, keccak256(chunk));
    }

    /// @notice OpenZeppelin multiproof check over precomputed leaves (§3.3).
    function multiProofVerify(bytes32[] calldata proof, bool[] calldata proofFlags, bytes32 root, bytes32[] calldata leaves)
        external
        pure
        returns (bool)
    {
        return MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves);
    }
}
