// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Escrow parameters and governance wiring (docs/PROTOCOL.md §5.4)
/// @notice Governance sets fees, clocks and collateral rules within hard bounds, the treasury,
/// and — once — the dispute game. Running jobs keep the fee and window they were opened with.
abstract contract EscrowParams is AccessControl {
    /// @notice May change the parameters and treasury.
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");

    uint256 internal constant BPS = 10_000;
    uint16 public constant MAX_FEE_BPS = 1_000; // 10%
    uint32 public constant MAX_COLLATERAL_BPS = 100_000; // 10x the escrow
    uint32 public constant MIN_WINDOW = 60;
    uint32 public constant MAX_WINDOW = 30 days;
    /// Most jobs per prover that may wait with a published prompt (bounds the forced work).
    uint16 public constant MAX_PUBLISHED_PER_PROVER = 64;

    struct Params {
        /// Protocol fee on what the prover earns, in basis points.
        uint16 feeBps;
        /// Seconds the prover has from openJob to commitResult (inclusive).
        uint32 commitTimeout;
        /// Seconds after commitResult during which a dispute may open (inclusive).
        uint32 challengeWindow;
        /// Prover collateral locked per job, in basis points of the job's escrow...
        uint32 collateralBps;
        /// ...but never less than this.
        uint128 minCollateral;
        /// Share of the collateral paid to the client when the prover misses the commit deadline.
        uint16 missedCommitPenaltyBps;
        /// Share of a fraud's slash credited to the challenger of the earliest-opened dispute
        /// unresolved at the slash (PROTOCOL §9.5); the rest goes to the treasury.
        uint16 challengerRewardBps;
        /// Seconds after publishPrompt during which the prover may still decline the job without
        /// penalty (1 s – commitTimeout): it reads the prompt, then serves or declines.
        uint32 declineWindow;
        /// Most Open jobs with a published prompt one prover can have (1 – MAX_PUBLISHED_PER_PROVER):
        /// publishPrompt beyond it reverts, so nobody can force more work than fits the timeout.
        uint16 maxPublishedPerProver;
    }

    Params internal _params;
    address private _treasury;
    address private _disputeGame;
    address private _availabilityGame;
    address private _auditManager;

    error InvalidParams(string field);
    error DisputeGameAlreadySet(address game);
    error AvailabilityGameAlreadySet(address game);
    error AuditManagerAlreadySet(address auditManager);
    error NotAuditManager(address caller);
    error NotDisputeGame(address caller);

    event ParamsUpdated(Params params);
    event TreasurySet(address treasury);
    event DisputeGameSet(address game);
    event AvailabilityGameSet(address game);
    event AuditManagerSet(address auditManager);

    /// @dev The step-proof game and the trace-availability game (PROTOCOL §5.5, §8.1) both freeze
    /// and resolve jobs through the dispute hook.
    modifier onlyDisputeGame() {
        if (msg.sender == address(0) || (msg.sender != _disputeGame && msg.sender != _availabilityGame)) {
            revert NotDisputeGame(msg.sender);
        }
        _;
    }

    modifier onlyAuditManager() {
        if (msg.sender == address(0) || msg.sender != _auditManager) revert NotAuditManager(msg.sender);
        _;
    }

    constructor(address admin, Params memory params_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(params_);
        _setTreasury(admin);
    }

    /// @notice Replace the parameters; applies to jobs opened (fee, window, collateral) or
    /// settled (penalty, reward shares) from now on.
    function setParams(Params calldata params_) external onlyRole(PARAMS_ROLE) {
        _setParams(params_);
    }

    function setTreasury(address treasury_) external onlyRole(PARAMS_ROLE) {
        _setTreasury(treasury_);
    }

    /// @notice Wire the dispute game. Set once: replacing it could strand disputes in flight
    /// (their jobs would stay frozen), so a new game means a new escrow.
    function setDisputeGame(address game) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_disputeGame != address(0)) revert DisputeGameAlreadySet(_disputeGame);
        if (game == address(0)) revert InvalidParams("game");
        _disputeGame = game;
        emit DisputeGameSet(game);
    }

    /// @notice Wire the trace-availability game (PROTOCOL §8.1). Set once, like the dispute game.
    function setAvailabilityGame(address game) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_availabilityGame != address(0)) revert AvailabilityGameAlreadySet(_availabilityGame);
        if (game == address(0)) revert InvalidParams("availabilityGame");
        _availabilityGame = game;
        emit AvailabilityGameSet(game);
    }

    /// @notice Wire the audit manager (PROTOCOL §9). Set once: it holds the audit records and
    /// pool membership of jobs in flight. Until it is set no job can open (nothing would deter
    /// a cheating prover).
    function setAuditManager(address auditManager_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_auditManager != address(0)) revert AuditManagerAlreadySet(_auditManager);
        if (auditManager_ == address(0)) revert InvalidParams("auditManager");
        _auditManager = auditManager_;
        emit AuditManagerSet(auditManager_);
    }

    function auditManager() public view returns (address) {
        return _auditManager;
    }

    function availabilityGame() public view returns (address) {
        return _availabilityGame;
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function treasury() public view returns (address) {
        return _treasury;
    }

    function disputeGame() public view returns (address) {
        return _disputeGame;
    }

    function _setParams(Params memory p) private {
        if (p.feeBps > MAX_FEE_BPS) revert InvalidParams("feeBps");
        if (p.commitTimeout < MIN_WINDOW || p.commitTimeout > MAX_WINDOW) revert InvalidParams("commitTimeout");
        if (p.challengeWindow < MIN_WINDOW || p.challengeWindow > MAX_WINDOW) revert InvalidParams("challengeWindow");
        if (p.collateralBps > MAX_COLLATERAL_BPS) revert InvalidParams("collateralBps");
        if (p.missedCommitPenaltyBps > BPS) revert InvalidParams("missedCommitPenaltyBps");
        if (p.challengerRewardBps > BPS) revert InvalidParams("challengerRewardBps");
        if (p.declineWindow == 0 || p.declineWindow > p.commitTimeout) revert InvalidParams("declineWindow");
        if (p.maxPublishedPerProver == 0 || p.maxPublishedPerProver > MAX_PUBLISHED_PER_PROVER) {
            revert InvalidParams("maxPublishedPerProver");
        }
        _params = p;
        emit ParamsUpdated(p);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert InvalidParams("treasury");
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
