// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IVoucherEscrow} from "../interfaces/IVoucherEscrow.sol";
import {IJobAdoption} from "../interfaces/IJobAdoption.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {CreditLedger} from "../libraries/CreditLedger.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {VoucherParams} from "./VoucherParams.sol";

/// @title VoucherEscrow
/// @notice Per-token payment at batch cost (docs/PROTOCOL.md §5.8). A client deposits once per
/// prover and signs an EIP-712 voucher per job; nothing goes on-chain per job. The prover commits
/// many jobs as one positional Merkle root with one debit per client, each debit moving that much
/// of the client's deposit into the batch; after the challenge window anyone claims the batch and
/// the prover is paid in one write. A batch is optimistic: its disputes live in the BatchCourt,
/// which may move a job into the JobEscrow (where the step-proof game judges it) or void the
/// whole batch (every client refunded, the prover slashed and jailed).
/// Solvency: balance == Σ deposits + Σ exposure + Σ earned + fees + auditFees + totalCredits.
contract VoucherEscrow is IVoucherEscrow, VoucherParams, CreditLedger, ReentrancyGuard, EIP712, Multicall {
    using SafeERC20 for IERC20;

    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address client,address prover,bytes32 modelId,bytes32 promptRoot,uint256 samplingParams,uint32 inputTokens,uint32 maxOutputTokens,uint128 inputPrice,uint128 outputPrice,uint64 nonce,uint64 expiry)"
    );
    /// A settled batch slot keeps this non-zero word, so the next commit into it is cheap.
    bytes32 internal constant SETTLED = bytes32(uint256(1));

    IERC20 public immutable token;
    INodeRegistry public immutable nodes;
    IJobAdoption public immutable jobs;

    mapping(address client => mapping(address prover => Account)) private _accounts;
    mapping(address prover => ProverBook) private _books;
    /// Stake each prover locked as standing collateral, and what its live batches hold of it.
    mapping(address prover => Reserve) private _reserves;
    mapping(bytes32 batchId => bytes32 headerHash) private _batches;
    mapping(bytes32 batchId => BatchState) private _states;
    /// Collateral of a live batch's leaves moved into the JobEscrow (their locks moved with them).
    mapping(bytes32 batchId => uint256) private _adoptedCollateral;
    FeeBook private _fees;
    /// @notice The batch court, which alone may shrink, re-hash and void batches (§5.8).
    address public court;
    /// @notice The publication desk, which alone may hold reserve against published vouchers (§5.8).
    address public publication;
    /// @notice A requested withdrawal executes no sooner than this (published vouchers' deadlines).
    mapping(address client => mapping(address prover => uint64)) public depositLockedUntil;

    error ZeroAmount();
    error InsufficientDeposit(address client, address prover, uint256 balance, uint256 amount);
    error NoWithdrawalRequested(address client, address prover);
    error WithdrawalNotReady(address client, address prover, uint64 withdrawableAt);
    error InsufficientReserve(address prover, uint256 needed, uint256 reserved);
    error BatchSlotBusy(bytes32 batchId);
    error EmptyBatch();
    error TooManyDebits(uint256 count, uint256 max);
    error InvalidDebit(uint256 entry);
    error NonceReused(address client, uint64 firstNonce, uint64 nextNonce);
    error LeafCountMismatch(uint256 debited, uint32 leafCount);
    error ChargeOverflow();
    error UnknownBatch(bytes32 batchId, bytes32 headerHash);
    error ChallengeWindowOpen(bytes32 batchId, uint64 challengeDeadline);
    error ChallengesOpen(bytes32 batchId, uint32 openChallenges);
    error HeldUntil(bytes32 batchId, uint64 holdUntil);
    error NotCourt(address caller);
    error CourtAlreadySet(address court);
    error NotPublication(address caller);
    error PublicationAlreadySet(address publication);
    error RefundMismatch(uint256 refunds, uint256 total);

    event CourtSet(address court);
    event PublicationSet(address publication);

    modifier onlyPublication() {
        if (msg.sender != publication || msg.sender == address(0)) revert NotPublication(msg.sender);
        _;
    }

    modifier onlyCourt() {
        if (msg.sender != court || msg.sender == address(0)) revert NotCourt(msg.sender);
        _;
    }

    constructor(
        address admin,
        IERC20 token_,
        INodeRegistry nodes_,
        IJobAdoption jobs_,
        Params memory params_,
        uint128 challengeFee_
    ) VoucherParams(admin, params_, challengeFee_) EIP712("stepproof VoucherEscrow", "1") {
        token = token_;
        nodes = nodes_;
        jobs = jobs_;
    }

    // ------------------------------------------------------------------ client deposits

    /// @notice Add `amount` to the caller's deposit for `prover`.
    function deposit(address prover, uint128 amount) public nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Account storage a = _accounts[msg.sender][prover];
        a.balance += amount;
        TokenTransfers.pullExact(token, msg.sender, amount);
        emit Deposited(msg.sender, prover, amount, a.balance);
    }

    /// @notice `deposit` after an EIP-2612 permit; a failed permit is ignored if the allowance
    /// suffices (e.g. someone submitted the permit first).
    function depositWithPermit(address prover, uint128 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        deposit(prover, amount);
    }

    /// @notice Start the notice period after which the caller may withdraw from its deposit for
    /// `prover`. Vouchers the prover accepted before this expire before it ends (§5.8).
    function requestWithdrawal(address prover) external {
        Account storage a = _accounts[msg.sender][prover];
        uint64 at = uint64(block.timestamp) + _params.withdrawalNotice;
        uint64 locked = depositLockedUntil[msg.sender][prover];
        if (locked >= at) at = locked + 1;
        a.withdrawableAt = at;
        emit WithdrawalRequested(msg.sender, prover, at);
    }

    /// @notice Withdraw up to the whole remaining deposit once the notice has passed. Whatever
    /// batches committed before now already took out of it is theirs.
    function withdrawDeposit(address prover, uint128 amount) external nonReentrant {
        Account storage a = _accounts[msg.sender][prover];
        if (a.withdrawableAt == 0) revert NoWithdrawalRequested(msg.sender, prover);
        if (block.timestamp < a.withdrawableAt) revert WithdrawalNotReady(msg.sender, prover, a.withdrawableAt);
        if (amount > a.balance) revert InsufficientDeposit(msg.sender, prover, a.balance, amount);
        a.balance -= amount;
        a.withdrawableAt = 0;
        token.safeTransfer(msg.sender, amount);
        emit DepositWithdrawn(msg.sender, prover, amount, a.balance);
    }

    // ------------------------------------------------------------------ prover

    /// @notice Lock `amount` of the caller's free stake as standing collateral for its batches
    /// (reverts while jailed or below the minimum prover stake).
    function reserve(uint128 amount) external {
        nodes.lockCollateral(msg.sender, amount);
        Reserve storage r = _reserves[msg.sender];
        r.reserved += amount;
        emit ReserveChanged(msg.sender, r.reserved);
    }

    /// @notice Unlock reserve no live batch holds. What batches hold is the collateral fixed in
    /// their headers at commit (less what moved into the JobEscrow), never a figure recomputed
    /// from today's parameters: a parameter change or a rounding cannot free collateral a live
    /// batch still needs (attack review, PROTOCOL §5.8).
    function release(uint128 amount) external {
        Reserve storage r = _reserves[msg.sender];
        Reserve memory cur = r;
        if (uint256(amount) + cur.held > cur.reserved) revert InsufficientReserve(msg.sender, uint256(amount) + cur.held, cur.reserved);
        r.reserved = cur.reserved - amount;
        nodes.unlockCollateral(msg.sender, amount);
        emit ReserveChanged(msg.sender, r.reserved);
    }

    /// @inheritdoc IVoucherEscrow
    /// @dev Debits are in leaf order: debit k covers the next `count` leaves. Each moves `amount`
    /// of the client's deposit for the caller into the batch and advances the account's nonce
    /// past `lastNonce`, so no voucher nonce is charged twice (PROTOCOL §5.8).
    function commitBatch(uint64 slot, bytes32 jobsRoot, uint32 leafCount, Debit[] calldata debits)
        external
        returns (bytes32 batchId)
    {
        batchId = batchIdOf(msg.sender, slot);
        bytes32 stored = _batches[batchId];
        if (stored != bytes32(0) && stored != SETTLED) revert BatchSlotBusy(batchId);
        if (jobsRoot == bytes32(0) || leafCount == 0) revert EmptyBatch();
        Params memory p = _params;
        uint256 total = _takeDebits(debits, leafCount, p.maxDebits);
        ProverBook storage b = _books[msg.sender];
        uint256 exposed = uint256(b.exposure) + total;
        if (exposed > type(uint128).max) revert ChargeOverflow();
        b.exposure = uint128(exposed);
        uint256 collateral = total * p.collateralBps / BPS;
        // INVARIANT: held ≤ reserved: every live batch's collateral is locked stake.
        Reserve storage r = _reserves[msg.sender];
        Reserve memory cur = r;
        if (collateral + cur.held > cur.reserved) revert InsufficientReserve(msg.sender, collateral + cur.held, cur.reserved);
        r.held = uint128(cur.held + collateral);
        BatchHeader memory h;
        h.prover = msg.sender;
        h.slot = slot;
        h.jobsRoot = jobsRoot;
        h.leafCount = leafCount;
        h.debitsHash = keccak256(abi.encode(debits));
        h.total = uint128(total);
        h.collateral = uint128(collateral);
        h.committedAt = uint64(block.timestamp);
        h.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        h.feeBps = p.feeBps;
        h.auditFeeBps = p.auditFeeBps;
        // A reused slot starts clean: its last batch's state was deleted when it settled.
        _batches[batchId] = keccak256(abi.encode(h));
        emit BatchCommitted(batchId, msg.sender, h, debits);
    }

    /// @dev Move each debit's amount from its client's deposit for the caller into the batch and
    /// advance the account's nonce past the debit's last. Returns the batch's total.
    function _takeDebits(Debit[] calldata debits, uint32 leafCount, uint16 maxDebits) private returns (uint256 total) {
        uint256 n = debits.length;
        if (n == 0 || n > maxDebits) revert TooManyDebits(n, maxDebits);
        uint256 leaves;
        for (uint256 i; i < n; ++i) {
            Debit calldata d = debits[i];
            // Strictly increasing nonces from firstNonce to lastNonce over `count` leaves.
            if (d.count == 0 || d.lastNonce < d.firstNonce || d.lastNonce - d.firstNonce < d.count - 1 || d.lastNonce == type(uint64).max) {
                revert InvalidDebit(i);
            }
            Account storage a = _accounts[d.client][msg.sender];
            Account memory acc = a;
            if (d.firstNonce < acc.nextNonce) revert NonceReused(d.client, d.firstNonce, acc.nextNonce);
            if (d.amount > acc.balance) revert InsufficientDeposit(d.client, msg.sender, acc.balance, d.amount);
            a.balance = acc.balance - d.amount;
            a.nextNonce = d.lastNonce + 1;
            total += d.amount;
            leaves += d.count;
        }
        if (leaves != leafCount) revert LeafCountMismatch(leaves, leafCount);
    }

    /// @inheritdoc IVoucherEscrow
    /// @dev Anyone may claim; the prover is paid into `earned`, fees accumulate until swept.
    function claimBatch(BatchHeader calldata h) external {
        bytes32 batchId = requireLive(h);
        if (block.timestamp <= h.challengeDeadline) revert ChallengeWindowOpen(batchId, h.challengeDeadline);
        BatchState memory st = _states[batchId];
        if (st.openChallenges != 0) revert ChallengesOpen(batchId, st.openChallenges);
        if (block.timestamp <= st.holdUntil) revert HeldUntil(batchId, st.holdUntil);
        _batches[batchId] = SETTLED;
        uint256 total = h.total;
        uint256 collateral = h.collateral;
        if (st.adoptedTotal != 0) {
            total -= st.adoptedTotal;
            collateral -= _adoptedCollateral[batchId];
            delete _adoptedCollateral[batchId];
        }
        if (st.holdUntil != 0 || st.adoptedTotal != 0) delete _states[batchId];
        // Fees round down: the protocol never takes more than its rates.
        uint256 fee = total * h.feeBps / BPS;
        uint256 auditFee = total * h.auditFeeBps / BPS;
        uint256 paid = total - fee - auditFee;
        ProverBook storage b = _books[h.prover];
        b.exposure -= uint128(total);
        b.earned += uint128(paid);
        _reserves[h.prover].held -= uint128(collateral);
        FeeBook storage f = _fees;
        f.fees += uint128(fee);
        f.auditFees += uint128(auditFee);
        emit BatchClaimed(batchId, h.prover, paid, fee, auditFee);
    }

    /// @notice Withdraw the caller's pay from claimed batches.
    function withdrawEarnings() external nonReentrant {
        uint256 amount = _books[msg.sender].earned;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _books[msg.sender].earned = 0;
        token.safeTransfer(msg.sender, amount);
        emit CreditWithdrawn(msg.sender, amount);
    }

    /// @notice Withdraw other credits (challenge fees, refunded fees, the treasury's fees).
    function withdraw() external nonReentrant {
        _withdrawCredits(token);
    }

    /// @notice Credit accumulated protocol fees to the JobEscrow's treasury and move audit fees
    /// into the JobEscrow's audit pool (PROTOCOL §9.2). Anyone may call.
    function sweepFees() external nonReentrant {
        FeeBook memory f = _fees;
        delete _fees;
        address treasury = jobs.treasury();
        _credit(treasury, f.fees);
        if (f.auditFees != 0) {
            token.forceApprove(address(jobs), f.auditFees);
            jobs.fundAuditPool(f.auditFees);
        }
        emit FeesSwept(treasury, f.fees, f.auditFees);
    }

    // ------------------------------------------------------------------ court hooks

    /// @notice Wire the batch court (PROTOCOL §5.8), once: replacing it could strand disputes.
    function setCourt(address court_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (court != address(0)) revert CourtAlreadySet(court);
        court = court_;
        emit CourtSet(court_);
    }

    function setPublication(address publication_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (publication != address(0)) revert PublicationAlreadySet(publication);
        publication = publication_;
        emit PublicationSet(publication_);
    }

    /// @notice Publication: hold `amount` of the prover's idle reserve against a published
    /// voucher's penalty, leaving at least `headroom` idle beside it (the voucher's own batch
    /// collateral, so it stays batchable); `release` cannot free the hold (PROTOCOL §5.8).
    function holdReserve(address prover, uint128 amount, uint256 headroom) external onlyPublication {
        Reserve storage r = _reserves[prover];
        Reserve memory cur = r;
        uint256 need = uint256(cur.held) + amount + headroom;
        if (need > cur.reserved) revert InsufficientReserve(prover, need, cur.reserved);
        r.held = cur.held + amount;
    }

    /// @notice Publication: no withdrawal of `client`'s deposit for `prover` executes before
    /// `until` (a published voucher's deadline), whatever the withdrawal notice becomes.
    function lockDeposit(address client, address prover, uint64 until) external onlyPublication {
        if (until > depositLockedUntil[client][prover]) depositLockedUntil[client][prover] = until;
    }

    /// @notice Publication: end a hold; with `forfeit` the amount also leaves the reserve, and
    /// the caller slashes that much of the prover's locked stake.
    function freeReserve(address prover, uint128 amount, bool forfeit) external onlyPublication {
        Reserve storage r = _reserves[prover];
        r.held -= amount;
        if (forfeit) {
            r.reserved -= amount;
            emit ReserveChanged(prover, r.reserved);
        }
    }

    /// @notice The batch id of a live batch with exactly this header; reverts otherwise.
    function requireLive(BatchHeader calldata h) public view returns (bytes32 batchId) {
        batchId = batchIdOf(h.prover, h.slot);
        bytes32 stored = _batches[batchId];
        if (stored == bytes32(0) || stored == SETTLED || stored != keccak256(abi.encode(h))) {
            revert UnknownBatch(batchId, stored);
        }
    }

    /// @notice Court: a leaf challenge opened (`opened`) or was answered; an answer holds the
    /// batch (no claim, jobs still movable to the JobEscrow) for `hold` more seconds.
    function noteChallenge(BatchHeader calldata h, bool opened, uint64 hold) external onlyCourt {
        bytes32 batchId = requireLive(h);
        BatchState storage st = _states[batchId];
        if (opened) {
            ++st.openChallenges;
        } else {
            --st.openChallenges;
            uint64 until = uint64(block.timestamp) + hold;
            if (until > st.holdUntil) st.holdUntil = until;
        }
    }

    /// @notice Court: move `charge` and its share of the batch's collateral out of a live batch
    /// and the prover's books and send the charge to the JobEscrow, which adopts the job. The
    /// collateral's lock in the NodeRegistry moves with the job: no unlock, no relock (a jailed
    /// prover's batched jobs stay disputable).
    function releaseToJob(BatchHeader calldata h, uint256 charge)
        external
        onlyCourt
        nonReentrant
        returns (uint256 collateral)
    {
        bytes32 batchId = requireLive(h);
        collateral = h.total == 0 ? 0 : uint256(h.collateral) * charge / h.total;
        _states[batchId].adoptedTotal += uint128(charge);
        _adoptedCollateral[batchId] += collateral;
        _books[h.prover].exposure -= uint128(charge);
        Reserve storage r = _reserves[h.prover];
        r.reserved -= uint128(collateral);
        r.held -= uint128(collateral);
        token.safeTransfer(address(jobs), charge);
    }

    /// @notice Court: a proven inconsistency settles the slot with nothing paid; what each debit
    /// has not moved to the JobEscrow (`refunds`, computed by the court) returns to its client's
    /// deposit. Returns the locked stake to slash: the batch's remaining collateral plus
    /// `shareBps` of the prover's idle reserve (stake it parked in the reserve is not safe from
    /// the fraud share, attack review), both leaving the reserve.
    function voidBatch(BatchHeader calldata h, Debit[] calldata debits, uint256[] calldata refunds, uint16 shareBps)
        external
        onlyCourt
        returns (uint256 fromLocked)
    {
        bytes32 batchId = requireLive(h);
        _batches[batchId] = SETTLED;
        uint256 remaining = h.total - _states[batchId].adoptedTotal;
        uint256 collateral = h.collateral - _adoptedCollateral[batchId];
        delete _states[batchId];
        delete _adoptedCollateral[batchId];
        uint256 sum;
        for (uint256 i; i < debits.length; ++i) {
            _accounts[debits[i].client][h.prover].balance += uint128(refunds[i]);
            sum += refunds[i];
        }
        // INVARIANT: refunds return exactly what the batch still holds (solvency, §5.8).
        if (sum != remaining) revert RefundMismatch(sum, remaining);
        _books[h.prover].exposure -= uint128(remaining);
        Reserve storage r = _reserves[h.prover];
        r.held -= uint128(collateral);
        uint256 idle = r.reserved - collateral - r.held;
        fromLocked = collateral + idle * shareBps / BPS;
        r.reserved -= uint128(fromLocked);
    }

    // ------------------------------------------------------------------ views

    function batchIdOf(address prover, uint64 slot) public pure returns (bytes32) {
        return keccak256(abi.encode(prover, slot));
    }

    /// @notice The stored hash of a batch's header: 0 never used, 1 settled (PROTOCOL §5.8).
    function batchHash(bytes32 batchId) external view returns (bytes32) {
        return _batches[batchId];
    }

    function account(address client, address prover) external view returns (Account memory) {
        return _accounts[client][prover];
    }

    function book(address prover) external view returns (ProverBook memory) {
        return _books[prover];
    }

    function reserveOf(address prover) external view returns (Reserve memory) {
        return _reserves[prover];
    }

    /// @notice What disputes changed on a live batch, and the collateral its moved jobs took.
    function batchState(bytes32 batchId) external view returns (BatchState memory state, uint256 adoptedCollateral) {
        return (_states[batchId], _adoptedCollateral[batchId]);
    }

    function feeBook() external view returns (FeeBook memory) {
        return _fees;
    }

    /// @notice The key of a batch's dispute state (adoptions, challenges, voiding).
    function instanceOf(address prover, bytes32 debitsHash) public pure returns (bytes32) {
        return keccak256(abi.encode(prover, debitsHash));
    }

    /// @notice The EIP-712 digest a client signs for `v`.
    function voucherDigest(Voucher calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, v)));
    }
}
