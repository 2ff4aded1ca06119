// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {CreditLedger} from "../libraries/CreditLedger.sol";

/// @title NodeRegistry
/// @notice Registration, staking, unbonding, per-model prices and slashing of provers and
/// verifiers (docs/PROTOCOL.md §5.2). Every token this contract holds is owed to someone:
/// `balance == totalStaked + totalUnbonding + totalCredits` (the solvency invariant).
contract NodeRegistry is INodeRegistry, AccessControl, CreditLedger, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Locks and unlocks job collateral (granted to the JobEscrow only).
    bytes32 public constant ESCROW_ROLE = keccak256("ESCROW_ROLE");
    /// @notice Slashes stake (granted to the JobEscrow, which slashes solely on a dispute game's
    /// verdict or a commit deadline the chain itself witnessed, and to the AuditManager, which
    /// slashes an auditor that approved a canary, PROTOCOL §9.3).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice Locks and unlocks verifiers' audit bonds (granted to the AuditManager only).
    bytes32 public constant AUDIT_ROLE = keccak256("AUDIT_ROLE");
    /// @notice Sets stake minimums, the unbonding delay and the treasury.
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");

    uint256 public constant MAX_ENDPOINT_LENGTH = 256;
    uint256 internal constant BPS = 10_000;
    uint64 public constant MAX_UNBONDING_DELAY = 60 days;

    IERC20 public immutable token;
    IModelRegistry public immutable models;

    uint128 public minProverStake;
    uint128 public minVerifierStake;
    uint64 public unbondingDelay;
    address public treasury;

    uint256 public totalStaked;
    uint256 public totalUnbonding;

    mapping(address node => Node) private _nodes;
    mapping(address prover => mapping(bytes32 modelId => Offer)) private _offers;

    error InvalidRole();
    error AlreadyRegistered(address node);
    error NotRegistered(address node);
    error NotAProver(address node);
    error NotAVerifier(address node);
    error Jailed(address node, uint64 until);
    error NotLocker(address caller);
    error StakeTooLow(address node, uint256 have, uint256 need);
    error InsufficientFreeStake(address node, uint256 free, uint256 need);
    error InsufficientLocked(address node, uint256 locked, uint256 need);
    error InvalidEndpoint(uint256 length);
    error ModelUnknown(bytes32 modelId);
    error ZeroAmount();
    error NothingUnbonding(address node);
    error UnbondingNotReady(address node, uint64 readyAt, uint64 now_);
    error InvalidShare(uint16 shareBps);
    error InvalidParams();

    event NodeRegistered(address indexed node, Role role, uint256 stake, string endpoint);
    event EndpointUpdated(address indexed node, string endpoint);
    event StakeAdded(address indexed node, uint256 amount, uint256 stake);
    event OfferSet(address indexed prover, bytes32 indexed modelId, uint128 inputPrice, uint128 outputPrice);
    event OfferRemoved(address indexed prover, bytes32 indexed modelId);
    event UnbondingRequested(address indexed node, uint256 amount, uint256 unbonding, uint64 readyAt);
    event UnbondedWithdrawn(address indexed node, uint256 amount);
    event CollateralLocked(address indexed prover, uint256 amount, uint256 locked);
    event CollateralUnlocked(address indexed prover, uint256 amount, uint256 locked);
    /// @notice `node` lost `fromLocked + fromFree + fromUnbonding`, credited to `to` (the slasher).
    event StakeSlashed(
        address indexed node, address indexed to, uint256 fromLocked, uint256 fromFree, uint256 fromUnbonding, uint64 jailedUntil
    );
    event BondLocked(address indexed verifier, uint256 amount, uint256 locked);
    event CreditsTransferred(address indexed from, address indexed to, uint256 amount);
    event ParamsUpdated(uint128 minProverStake, uint128 minVerifierStake, uint64 unbondingDelay, address treasury);

    constructor(
        address admin,
        IERC20 token_,
        IModelRegistry models_,
        uint128 minProverStake_,
        uint128 minVerifierStake_,
        uint64 unbondingDelay_,
        address treasury_
    ) {
        token = token_;
        models = models_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(minProverStake_, minVerifierStake_, unbondingDelay_, treasury_);
    }

    // ------------------------------------------------------------------ node lifecycle

    /// @notice Register the caller as a prover or verifier, pulling `amount` of stake.
    /// @dev Fee-on-transfer tokens are rejected by TokenTransfers.pullExact: a stake must be
    /// exactly what the books say.
    function register(Role role, uint128 amount, string calldata endpoint) external nonReentrant {
        if (role == Role.None) revert InvalidRole();
        Node storage node = _nodes[msg.sender];
        if (node.role != Role.None) revert AlreadyRegistered(msg.sender);
        _checkEndpoint(endpoint);
        uint256 need = role == Role.Prover ? minProverStake : minVerifierStake;
        if (amount < need || amount == 0) revert StakeTooLow(msg.sender, amount, need);

        node.role = role;
        node.stake = amount;
        node.endpoint = endpoint;
        totalStaked += amount;
        TokenTransfers.pullExact(token, msg.sender, amount);
        emit NodeRegistered(msg.sender, role, amount, endpoint);
    }

    /// @notice Change the public endpoint URL peers and clients reach the node at.
    function updateEndpoint(string calldata endpoint) external {
        Node storage node = _requireNode(msg.sender);
        _checkEndpoint(endpoint);
        node.endpoint = endpoint;
        emit EndpointUpdated(msg.sender, endpoint);
    }

    /// @notice Add `amount` to the caller's active stake.
    function topUp(uint128 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Node storage node = _requireNode(msg.sender);
        node.stake += amount;
        totalStaked += amount;
        TokenTransfers.pullExact(token, msg.sender, amount);
        emit StakeAdded(msg.sender, amount, node.stake);
    }

    /// @notice Publish or change the caller's prices for `modelId`. Open jobs keep the prices
    /// they were opened with.
    function setOffer(bytes32 modelId, uint128 inputPrice, uint128 outputPrice) external {
        Node storage node = _requireNode(msg.sender);
        if (node.role != Role.Prover) revert NotAProver(msg.sender);
        if (!models.isRegistered(modelId)) revert ModelUnknown(modelId);
        _offers[msg.sender][modelId] = Offer({inputPrice: inputPrice, outputPrice: outputPrice, active: true});
        emit OfferSet(msg.sender, modelId, inputPrice, outputPrice);
    }

    /// @notice Stop accepting new jobs for `modelId`.
    function removeOffer(bytes32 modelId) external {
        _requireNode(msg.sender);
        delete _offers[msg.sender][modelId];
        emit OfferRemoved(msg.sender, modelId);
    }

    /// @notice Move `amount` of free stake into unbonding; it becomes withdrawable after
    /// `unbondingDelay`. A new request restarts the delay for the whole unbonding amount.
    function requestUnbond(uint128 amount) external {
        if (amount == 0) revert ZeroAmount();
        Node storage node = _requireNode(msg.sender);
        uint256 free = node.stake - node.locked;
        // INVARIANT: locked <= stake, so collateral of unsettled jobs can never be unbonded.
        if (amount > free) revert InsufficientFreeStake(msg.sender, free, amount);
        node.stake -= amount;
        node.unbonding += amount;
        node.unbondingReadyAt = uint64(block.timestamp) + unbondingDelay;
        totalStaked -= amount;
        totalUnbonding += amount;
        emit UnbondingRequested(msg.sender, amount, node.unbonding, node.unbondingReadyAt);
    }

    /// @notice Withdraw everything that finished unbonding.
    function withdrawUnbonded() external nonReentrant {
        Node storage node = _requireNode(msg.sender);
        uint128 amount = node.unbonding;
        if (amount == 0) revert NothingUnbonding(msg.sender);
        if (block.timestamp < node.unbondingReadyAt) {
            revert UnbondingNotReady(msg.sender, node.unbondingReadyAt, uint64(block.timestamp));
        }
        node.unbonding = 0;
        totalUnbonding -= amount;
        token.safeTransfer(msg.sender, amount);
        emit UnbondedWithdrawn(msg.sender, amount);
    }

    /// @notice Withdraw slashing rewards, penalties and treasury income credited to the caller.
    function withdrawCredits() external nonReentrant {
        _withdrawCredits(token);
    }

    /// @inheritdoc INodeRegistry
    function transferCredits(address to, uint256 amount) external {
        _transferCredit(msg.sender, to, amount);
        emit CreditsTransferred(msg.sender, to, amount);
    }

    // ------------------------------------------------------------------ escrow hooks

    /// @inheritdoc INodeRegistry
    function lockCollateral(address prover, uint256 amount) external onlyRole(ESCROW_ROLE) {
        Node storage node = _nodes[prover];
        if (node.role != Role.Prover) revert NotAProver(prover);
        // INVARIANT: a prover proven fraudulent takes no new job until its jail ends (PROTOCOL §9.4).
        if (block.timestamp < node.jailedUntil) revert Jailed(prover, node.jailedUntil);
        if (node.stake < minProverStake) revert StakeTooLow(prover, node.stake, minProverStake);
        _lock(prover, node, amount);
        emit CollateralLocked(prover, amount, node.locked);
    }

    /// @inheritdoc INodeRegistry
    function lockBond(address verifier, uint256 amount) external onlyRole(AUDIT_ROLE) {
        Node storage node = _nodes[verifier];
        if (node.role != Role.Verifier) revert NotAVerifier(verifier);
        _lock(verifier, node, amount);
        emit BondLocked(verifier, amount, node.locked);
    }

    /// @inheritdoc INodeRegistry
    function unlockCollateral(address node_, uint256 amount) external {
        if (!hasRole(ESCROW_ROLE, msg.sender) && !hasRole(AUDIT_ROLE, msg.sender)) revert NotLocker(msg.sender);
        Node storage node = _nodes[node_];
        if (amount > node.locked) revert InsufficientLocked(node_, node.locked, amount);
        node.locked -= uint128(amount);
        emit CollateralUnlocked(node_, amount, node.locked);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Locked stake other than `fromLocked` (other jobs' collateral) is never touched, so
    /// `locked <= stake` holds after any slash. Unbonding stake is slashable until withdrawn: it
    /// left `stake` less than `unbondingDelay` ago, and every job or audit it could answer for
    /// ends sooner (PROTOCOL §5.4).
    function slashStake(address node_, uint256 fromLocked, uint16 shareBps, uint64 jailUntil)
        external
        onlyRole(SLASHER_ROLE)
        returns (uint256 slashed)
    {
        if (shareBps > BPS) revert InvalidShare(shareBps);
        Node storage node = _nodes[node_];
        if (fromLocked > node.locked) revert InsufficientLocked(node_, node.locked, fromLocked);
        // fromLocked <= locked <= stake < 2^128: the casts below cannot truncate.
        node.locked -= uint128(fromLocked);
        node.stake -= uint128(fromLocked);
        uint256 fromFree = uint256(node.stake - node.locked) * shareBps / BPS;
        uint256 fromUnbonding = uint256(node.unbonding) * shareBps / BPS;
        node.stake -= uint128(fromFree);
        node.unbonding -= uint128(fromUnbonding);
        totalStaked -= fromLocked + fromFree;
        totalUnbonding -= fromUnbonding;
        if (jailUntil > node.jailedUntil) node.jailedUntil = jailUntil;
        slashed = fromLocked + fromFree + fromUnbonding;
        // Slashed tokens stay in this contract and become the slasher's credit: the total owed
        // is unchanged; the slasher passes them on with transferCredits.
        _credit(msg.sender, slashed);
        emit StakeSlashed(node_, msg.sender, fromLocked, fromFree, fromUnbonding, node.jailedUntil);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Update stake minimums, the unbonding delay and the treasury. Existing unbonding
    /// requests keep their ready time.
    function setParams(uint128 minProverStake_, uint128 minVerifierStake_, uint64 unbondingDelay_, address treasury_)
        external
        onlyRole(PARAMS_ROLE)
    {
        _setParams(minProverStake_, minVerifierStake_, unbondingDelay_, treasury_);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc INodeRegistry
    function getNode(address node) external view returns (Node memory) {
        return _nodes[node];
    }

    /// @inheritdoc INodeRegistry
    function getOffer(address prover, bytes32 modelId) external view returns (Offer memory) {
        return _offers[prover][modelId];
    }

    /// @inheritdoc INodeRegistry
    function freeStake(address node) external view returns (uint256) {
        Node storage n = _nodes[node];
        return n.stake - n.locked;
    }

    // ------------------------------------------------------------------ internals

    function _setParams(uint128 minProver, uint128 minVerifier, uint64 delay, address treasury_) private {
        if (delay > MAX_UNBONDING_DELAY || treasury_ == address(0)) revert InvalidParams();
        minProverStake = minProver;
        minVerifierStake = minVerifier;
        unbondingDelay = delay;
        treasury = treasury_;
        emit ParamsUpdated(minProver, minVerifier, delay, treasury_);
    }

    /// @dev INVARIANT: locked <= stake, so stake that unsettled jobs or audits answer for can
    /// never be unbonded.
    function _lock(address account, Node storage node, uint256 amount) private {
        uint256 free = node.stake - node.locked;
        if (amount > free) revert InsufficientFreeStake(account, free, amount);
        // amount <= free <= stake < 2^128, so the cast cannot truncate.
        node.locked += uint128(amount);
    }

    function _requireNode(address account) private view returns (Node storage node) {
        node = _nodes[account];
        if (node.role == Role.None) revert NotRegistered(account);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        uint256 length = bytes(endpoint).length;
        if (length == 0 || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(length);
    }
}
