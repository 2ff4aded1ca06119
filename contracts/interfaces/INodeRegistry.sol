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
        /// No new job may lock collateral before this time (set by a fraud slash, PROTOCOL §9.4).
        uint64 jailedUntil;
        string endpoint;
    }

    struct Offer {
        uint128 inputPrice; // token units per prompt token
        uint128 outputPrice; // token units per generated token
        bool active;
    }

    function getNode(address node) external view returns (Node memory);

    function getOffer(address prover, bytes32 modelId) external view returns (Offer memory);

    /// @notice Receives slashed stake not paid to a challenger.
    function treasury() external view returns (address);

    /// @notice Stake not locked by jobs, i.e. what a new job's collateral can use.
    function freeStake(address node) external view returns (uint256);

    /// @notice Move `amount` of the caller's credits to `to` (the escrow pays slash rewards and
    /// the treasury's share this way, PROTOCOL §9.5).
    function transferCredits(address to, uint256 amount) external;

    // ---- Called by the job escrow (ESCROW_ROLE, SLASHER_ROLE) and the audit manager (AUDIT_ROLE).

    /// @notice Lock a prover's collateral for a job; reverts while the prover is jailed.
    function lockCollateral(address prover, uint256 amount) external;

    /// @notice Lock a verifier's audit bond while it serves in an audit pool (PROTOCOL §9.2).
    function lockBond(address verifier, uint256 amount) external;

    /// @notice Release locked stake (a job's collateral, or an audit bond).
    function unlockCollateral(address node, uint256 amount) external;

    /// @notice Slash `fromLocked` of `node`'s locked stake, then `shareBps` of what remains of its
    /// free stake and of its unbonding stake; jail it until `jailUntil` (0: no jail). The whole
    /// amount is credited to the caller, who pays it on (PROTOCOL §9.4).
    function slashStake(address node, uint256 fromLocked, uint16 shareBps, uint64 jailUntil)
        external
        returns (uint256 slashed);
}
