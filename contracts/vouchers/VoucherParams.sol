// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Voucher escrow parameters (docs/PROTOCOL.md §5.8)
/// @notice Governance sets the batch path's fees and clocks within hard bounds; a committed batch
/// keeps the fees it was committed with (they are part of its header).
abstract contract VoucherParams is AccessControl {
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");

    uint256 internal constant BPS = 10_000;
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint32 public constant MAX_COLLATERAL_BPS = 100_000;
    uint32 public constant MIN_WINDOW = 60;
    uint32 public constant MAX_WINDOW = 30 days;

    /// @dev One storage slot: commit and claim read it once.
    struct Params {
        /// Protocol fee on a batch's charge, in basis points.
        uint16 feeBps;
        /// Share of a batch's charge that funds the audit pool (PROTOCOL §9.2).
        uint16 auditFeeBps;
        /// Reserve a prover must hold per unit of unclaimed batch charge, in basis points.
        uint32 collateralBps;
        /// Seconds after a commit during which leaves may be moved to disputes or challenged.
        uint32 challengeWindow;
        /// Seconds the prover has to answer a leaf challenge.
        uint32 answerWindow;
        /// Seconds between a client's withdrawal request and the withdrawal. Must exceed the
        /// longest voucher lifetime provers accept (PROTOCOL §5.8).
        uint32 withdrawalNotice;
        /// Share of a voided batch's slash paid to the account that proved it; rest to treasury.
        uint16 challengerRewardBps;
        /// Most debits (distinct client entries) in one batch.
        uint16 maxDebits;
    }

    Params internal _params;
    /// @notice Paid by a leaf challenger; credited to the prover when it answers.
    uint128 public challengeFee;

    error InvalidParams(string field);

    event ParamsUpdated(Params params, uint128 challengeFee);

    constructor(address admin, Params memory params_, uint128 challengeFee_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(params_, challengeFee_);
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function setParams(Params calldata params_, uint128 challengeFee_) external onlyRole(PARAMS_ROLE) {
        _setParams(params_, challengeFee_);
    }

    function _setParams(Params memory p, uint128 fee) private {
        if (uint256(p.feeBps) + p.auditFeeBps > MAX_FEE_BPS) revert InvalidParams("feeBps+auditFeeBps");
        if (p.collateralBps > MAX_COLLATERAL_BPS) revert InvalidParams("collateralBps");
        if (p.challengeWindow < MIN_WINDOW || p.challengeWindow > MAX_WINDOW) revert InvalidParams("challengeWindow");
        if (p.answerWindow < MIN_WINDOW || p.answerWindow > MAX_WINDOW) revert InvalidParams("answerWindow");
        if (p.withdrawalNotice < MIN_WINDOW || p.withdrawalNotice > MAX_WINDOW) revert InvalidParams("withdrawalNotice");
        if (p.challengerRewardBps > BPS) revert InvalidParams("challengerRewardBps");
        if (p.maxDebits == 0) revert InvalidParams("maxDebits");
        _params = p;
        challengeFee = fee;
        emit ParamsUpdated(p, fee);
    }
}
