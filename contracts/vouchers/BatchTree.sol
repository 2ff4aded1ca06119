// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVoucherEscrow} from "../interfaces/IVoucherEscrow.sol";

/// @title Batch job tree (docs/PROTOCOL.md §5.8)
/// @notice A positional binary Merkle tree over a batch's job leaves: leaf `i` sits at index `i`
/// of a tree of depth `ceil(log2(leafCount))`, padded with zero leaves; an inner node is
/// `keccak256(left ‖ right)`. Unlike the trace trees (§3.3, sorted pairs) the position is part of
/// the proof, so each index holds exactly one leaf: the fraud proofs about neighbouring leaves
/// (§5.8) rely on that.
library BatchTree {
    bytes32 internal constant JOB_DOMAIN = keccak256("stepproof.batch-job.v1");

    error InvalidLeafProof(uint32 index, uint32 leafCount);

    /// @notice leaf = keccak256(keccak256(abi.encode(JOB_DOMAIN, leaf))); hashed twice so no leaf
    /// preimage is 64 bytes (second-preimage safety, as §3.2).
    function leafHash(IVoucherEscrow.JobLeaf calldata leaf) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(JOB_DOMAIN, leaf))));
    }

    /// @notice Leaves [start, end) of the batch belong to debit `entry`: debits cover consecutive
    /// runs of `count` leaves in order (§5.8). The caller checks `debits` against the header.
    function debitRange(IVoucherEscrow.Debit[] calldata debits, uint256 entry)
        internal
        pure
        returns (uint256 start, uint256 end)
    {
        for (uint256 i; i < entry; ++i) {
            start += debits[i].count;
        }
        end = start + debits[entry].count;
    }

    /// @notice Tree depth for `leafCount ≥ 1` leaves: the smallest d with 2^d ≥ leafCount.
    function depth(uint32 leafCount) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < leafCount) ++d;
    }

    /// @notice Reverts unless `leaf` is at `index` of the tree with `root` and `leafCount` leaves.
    function verify(
        bytes32 root,
        uint32 leafCount,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        bytes32[] calldata proof
    ) internal pure {
        if (index >= leafCount || proof.length != depth(leafCount)) revert InvalidLeafProof(index, leafCount);
        bytes32 node = leafHash(leaf);
        uint256 at = index;
        for (uint256 i; i < proof.length; ++i) {
            node = at & 1 == 0 ? _hashPair(node, proof[i]) : _hashPair(proof[i], node);
            at >>= 1;
        }
        if (node != root) revert InvalidLeafProof(index, leafCount);
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, a)
            mstore(0x20, b)
            h := keccak256(0x00, 0x40)
        }
    }
}
