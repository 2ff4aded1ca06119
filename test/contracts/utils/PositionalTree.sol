// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The batch job tree of PROTOCOL §5.8 written independently of contracts/vouchers:
/// positional, depth ceil(log2 n), zero-padded, inner node keccak256(left ‖ right).
library PositionalTree {
    function depthOf(uint256 n) internal pure returns (uint256 d) {
        while ((uint256(1) << d) < n) ++d;
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        uint256 width = uint256(1) << depthOf(leaves.length);
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < leaves.length; ++i) level[i] = leaves[i];
        while (width > 1) {
            width /= 2;
            for (uint256 i; i < width; ++i) level[i] = keccak256(abi.encodePacked(level[2 * i], level[2 * i + 1]));
        }
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory p) {
        uint256 d = depthOf(leaves.length);
        uint256 width = uint256(1) << d;
        bytes32[] memory level = new bytes32[](width);
        for (uint256 i; i < leaves.length; ++i) level[i] = leaves[i];
        p = new bytes32[](d);
        for (uint256 k; k < d; ++k) {
            p[k] = level[index ^ 1];
            width /= 2;
            for (uint256 i; i < width; ++i) level[i] = keccak256(abi.encodePacked(level[2 * i], level[2 * i + 1]));
            index >>= 1;
        }
    }
}
