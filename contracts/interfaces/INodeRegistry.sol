// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Node registry and staking interface
/// @notice Provers and verifiers register with an ERC-20 stake; provers publish per-model prices.
/// Stake that open jobs could cost is locked; unbonding waits a delay. docs/PROTOCOL.md §5.2.
interface INodeRegistry {
    enum Role {
        None,
        Prover,
        Verifier
    }

    struct Node {
        Role role;
        uint128 stake; // active stake, includes `locked`
        uint128 locked; // collateral of unsettled jobs, slashable, not withdrawable
        uint128 unbonding; // left `stake`, withdrawable at `unbondingReadyAt`
        uint64 unbondingReadyAt;
        string endpoint;
    }

    struct Offer {
        uint128 inputPrice; // token units per prompt token
        uint128 outputPrice; // token units per generated token
        bool active;
    }

    function getNode(address node) external view returns (Node memory);

    function getOffer(address prover, bytes32 modelId) external view returns (Offer memory);

    /// @notice Stake not locked by jobs, i.e. what a new job's collateral can use.
    function freeStake(address node) external view returns (uint256);

    // ---- Called by the job escrow only.

    function lockCollateral(address prover, uint256 amount) external;

    function unlockCollateral(address prover, uint256 amount) external;

    /// @notice Slash `amount` of `prover`'s locked collateral; `reward` of it is credited to
    /// `challenger`, the rest to the treasury. Only the escrow (acting for the dispute game).
    function slash(address prover, uint256 amount, address challenger, uint256 reward) external;
}
