// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Audit and incentive parameters (docs/PROTOCOL.md §9.6)
/// @notice Governance sets the audit rate, the fraud penalty, the audit fee and the clocks within
/// hard bounds. Each bound is what an argument of §9 relies on, so a setting that would break
/// one reverts instead of silently weakening the protocol.
abstract contract AuditParams is AccessControl {
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");

    uint256 internal constant BPS = 10_000;
    uint16 public constant MAX_AUDIT_FEE_BPS = 2_000;
    /// A fraud must cost at least a tenth of what remains of the prover's stake: below that the
    /// capital a deterring exposure limit needs grows past what an operator can hold.
    uint16 public constant MIN_SLASH_SHARE_BPS = 1_000;
    uint32 public constant MAX_JAIL_PERIOD = 365 days;
    uint32 public constant MIN_AUDIT_PERIOD = 60;
    uint32 public constant MAX_PERIOD = 30 days;

    struct Params {
        /// Share of committed jobs audited unless the model has its own rate, 1–10,000 bps.
        uint16 auditRateBps;
        /// Block boundaries of 0..L each audit re-executes (the head step is always added), ≥ 1.
        uint8 boundaries;
        /// On fraud: share of the prover's free and unbonding stake slashed on top of the
        /// job's collateral, MIN_SLASH_SHARE_BPS–10,000.
        uint16 slashShareBps;
        /// On fraud: seconds the prover can take no new job (≤ MAX_JAIL_PERIOD).
        uint32 jailPeriod;
        /// Share of every settled job's cost paid into the audit pool (≤ MAX_AUDIT_FEE_BPS).
        uint16 auditFeeBps;
        /// Seconds after a commit within which the auditor must report or dispute, and during
        /// which only it may challenge the job (capped by the job's challenge deadline).
        uint32 auditPeriod;
        /// Seconds after a report before its pay can be claimed: the window in which a canary
        /// can still be exposed (§9.3).
        uint32 vestDelay;
        /// Share of an auditor's free and unbonding stake slashed, on top of its bond, when it
        /// approved a canary.
        uint16 lazySlashBps;
        /// Consecutive unanswered assignments after which an auditor is ejected, ≥ 1.
        uint8 maxMisses;
        /// Stake a verifier locks as its audit bond while in any pool.
        uint128 minBond;
        /// Seconds the bond stays locked after leaving the last pool; ≥ auditPeriod + vestDelay
        /// so every audit it could still be slashed for is final first.
        uint32 leaveDelay;
    }

    Params internal _params;
    mapping(bytes32 modelId => uint16) internal _modelRateBps;

    error InvalidParams(string field);

    event ParamsUpdated(Params params);
    event ModelAuditRateSet(bytes32 indexed modelId, uint16 rateBps);

    constructor(address admin, Params memory params_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(params_);
    }

    /// @notice Replace the parameters. Jobs already committed keep their audit rate and
    /// deadline; settled pay keeps its vesting time.
    function setParams(Params calldata params_) external onlyRole(PARAMS_ROLE) {
        _setParams(params_);
    }

    /// @notice A model's own audit rate (0 restores the default): larger or riskier models can
    /// be audited more often.
    function setModelAuditRate(bytes32 modelId, uint16 rateBps) external onlyRole(PARAMS_ROLE) {
        if (rateBps > BPS) revert InvalidParams("rateBps");
        _modelRateBps[modelId] = rateBps;
        emit ModelAuditRateSet(modelId, rateBps);
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice The share of `modelId`'s committed jobs that are audited, in basis points.
    function auditRateOf(bytes32 modelId) public view returns (uint16) {
        uint16 rate = _modelRateBps[modelId];
        return rate == 0 ? _params.auditRateBps : rate;
    }

    function _setParams(Params memory p) private {
        if (p.auditRateBps == 0 || p.auditRateBps > BPS) revert InvalidParams("auditRateBps");
        if (p.boundaries == 0) revert InvalidParams("boundaries");
        if (p.slashShareBps < MIN_SLASH_SHARE_BPS || p.slashShareBps > BPS) revert InvalidParams("slashShareBps");
        if (p.jailPeriod > MAX_JAIL_PERIOD) revert InvalidParams("jailPeriod");
        if (p.auditFeeBps > MAX_AUDIT_FEE_BPS) revert InvalidParams("auditFeeBps");
        if (p.auditPeriod < MIN_AUDIT_PERIOD || p.auditPeriod > MAX_PERIOD) revert InvalidParams("auditPeriod");
        if (p.vestDelay == 0 || p.vestDelay > MAX_PERIOD) revert InvalidParams("vestDelay");
        if (p.lazySlashBps > BPS) revert InvalidParams("lazySlashBps");
        if (p.maxMisses == 0) revert InvalidParams("maxMisses");
        if (p.minBond == 0) revert InvalidParams("minBond");
        if (uint256(p.leaveDelay) < uint256(p.auditPeriod) + p.vestDelay) revert InvalidParams("leaveDelay");
        _params = p;
        emit ParamsUpdated(p);
    }
}
