// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TokenRoot} from "../libraries/TokenRoot.sol";

/// @title Test harness for token roots (docs/PROTOCOL.md §3.4)
/// @notice Exposes TokenRoot so the TypeScript mirror can be checked against it in EDR. Not
/// deployed in production.
contract TokenRootHarness {
    /// @notice TokenRoot.root of uint32 big-endian ids at positions from `firstPosition`.
    function root(bytes calldata tokens, uint256 firstPosition) external pure returns (bytes32) {
        return TokenRoot.root(tokens, firstPosition);
    }

    function leaf(uint256 position, uint32 id) external pure returns (bytes32) {
        return TokenRoot.leaf(position, id);
    }

    /// @notice Reverts with TokenRoot.InvalidTokenProof unless the token is under `root_`.
    function verify(bytes32 root_, uint256 position, uint32 id, bytes32[] calldata proof) external pure returns (bool) {
        TokenRoot.verify(root_, position, id, proof);
        return true;
    }
}
