// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IVoucherEscrow} from "../interfaces/IVoucherEscrow.sol";
import {IJobAdoption} from "../interfaces/IJobAdoption.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {TokenRoot} from "../libraries/TokenRoot.sol";
import {BatchTree} from "./BatchTree.sol";
import {VoucherEscrow} from "./VoucherEscrow.sol";
import {VoucherParams} from "./VoucherParams.sol";

/// @title VoucherPublication
/// @notice The voucher path's liveness guarantee (docs/PROTOCOL.md §5.8 "Publication"). A client
/// whose prover does not serve a voucher off-chain publishes it here with its prompt: the
/// prover then has the prompt for sure and must, by `deadline`, show the voucher's leaf in a
/// batch it committed by then (`answer`), or decline within `declineWindow`. A missed deadline
/// is provable: `claimMissed` pays the client a penalty from the prover's reserve. The penalty
/// is held in the reserve from publication on, so the prover cannot move it out of reach.
/// Only a voucher the prover could have batched is ever blamed on it: the client's signature,
/// the prover's current offer, a runnable prompt, an unspent nonce, a deposit covering the
/// voucher, no withdrawal executable before the deadline and an expiry after it.
/// Holds no tokens: penalties move as NodeRegistry credits.
contract VoucherPublication is AccessControl, ReentrancyGuard {
    bytes32 public constant PARAMS_ROLE = keccak256("PARAMS_ROLE");

    uint256 internal constant BPS = 10_000;
    uint32 public constant MIN_WINDOW = 60;
    uint32 public constant MAX_WINDOW = 30 days;

    enum Status {
        None,
        Open, // the prover's turn: answer or decline
        Answered, // shown committed by the deadline
        Declined, // declined within the decline window, no penalty
        Missed // the deadline passed unanswered: the penalty went to the client
    }

    struct Publication {
        address prover;
        uint64 deadline;
        Status status;
        address client;
        uint64 declineDeadline;
        /// Held in the prover's reserve until the publication ends; paid to the client if missed.
        uint128 penalty;
        /// The voucher's nonce: the answering leaf must be this client's, at this nonce.
        uint64 nonce;
    }

    /// @dev One storage slot.
    struct Params {
        /// Seconds after publication by which the voucher must sit in a committed batch.
        uint32 publishTimeout;
        /// Seconds after publication during which the prover may decline without a penalty.
        uint32 declineWindow;
        /// Penalty for a missed deadline, in basis points of the voucher's collateral
        /// (its maximum charge times the escrow's collateralBps).
        uint16 missedPenaltyBps;
        /// Most open publications per (client, prover): bounds the work one client can force, and
        /// no client (or the prover's own sybil) can fill another client's queue (attack review).
        uint16 maxOpenPerClient;
    }

    VoucherEscrow public immutable escrow;
    INodeRegistry public immutable nodes;
    IModelRegistry public immutable models;
    IJobAdoption public immutable jobs;

    Params internal _params;
    mapping(bytes32 voucherHash => Publication) private _publications;
    /// @notice Open publications of each client with each prover (at most maxOpenPerClient).
    mapping(address prover => mapping(address client => uint256)) public openOf;

    error InvalidParams(string field);
    error NotVoucherClient(address caller, address client);
    error BadVoucherSignature(address client);
    error AlreadyPublished(bytes32 voucherHash, Status status);
    error NotOpen(bytes32 voucherHash, Status status);
    error PriceMismatch(uint128 offeredInput, uint128 offeredOutput, uint128 voucherInput, uint128 voucherOutput);
    error InvalidPrompt(uint256 length, uint32 inputTokens);
    error InvalidTokenId(uint256 index, uint32 id);
    error PromptMismatch(bytes32 promptRoot, bytes32 published);
    error ExceedsContext(uint32 inputTokens, uint32 maxOutputTokens, uint32 context);
    error UnverifiableSampling(uint256 samplingParams);
    error NonceSpent(uint64 nonce, uint64 nextNonce);
    error DepositTooLow(uint256 balance, uint256 maxCharge);
    error WithdrawalBeforeDeadline(uint64 withdrawableAt, uint64 deadline);
    error ExpiresBeforeDeadline(uint64 expiry, uint64 deadline);
    error QueueFull(address prover, address client, uint256 max);
    error NoOffer(address prover, bytes32 modelId);
    error NoPenalty();
    error UnchargeableNonce(uint64 nonce);
    error NotProver(address caller, address prover);
    error DeclineWindowClosed(bytes32 voucherHash, uint64 declineDeadline);
    error DeadlineNotPassed(bytes32 voucherHash, uint64 claimableAfter);
    error WrongBatch(bytes32 voucherHash, address batchProver, uint64 committedAt);
    error WrongLeaf(bytes32 voucherHash, bytes32 leafVoucherHash);
    error DebitsMismatch();
    error NotInClientDebit(uint32 index, uint256 entry);

    event ParamsUpdated(Params params);
    /// @notice Everything the prover needs to serve the voucher from the chain alone.
    event VoucherPublished(
        bytes32 indexed voucherHash,
        address indexed prover,
        address indexed client,
        IVoucherEscrow.Voucher voucher,
        bytes signature,
        bytes prompt,
        Publication publication
    );
    event PublicationAnswered(bytes32 indexed voucherHash, address indexed prover, bytes32 batchId, uint32 index);
    event PublicationDeclined(bytes32 indexed voucherHash, address indexed prover);
    event PublicationMissed(bytes32 indexed voucherHash, address indexed prover, address indexed client, uint256 penalty);

    constructor(address admin, VoucherEscrow escrow_, INodeRegistry nodes_, IModelRegistry models_, Params memory params_) {
        escrow = escrow_;
        nodes = nodes_;
        models = models_;
        jobs = escrow_.jobs();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PARAMS_ROLE, admin);
        _setParams(params_);
    }

    // ------------------------------------------------------------------ client

    /// @notice Publish a voucher the prover has not served, with its prompt (token ids, uint32
    /// big-endian each). Only the voucher's client may publish it, once. Reverts unless the
    /// prover could batch it by the deadline (see the contract's notice); holds the penalty in
    /// the prover's reserve (reverts `InsufficientReserve` when the reserve cannot hold it).
    function publish(IVoucherEscrow.Voucher calldata v, bytes calldata signature, bytes calldata prompt)
        external
        nonReentrant
        returns (bytes32 voucherHash)
    {
        if (msg.sender != v.client) revert NotVoucherClient(msg.sender, v.client);
        voucherHash = escrow.voucherDigest(v);
        if (_publications[voucherHash].status != Status.None) revert AlreadyPublished(voucherHash, _publications[voucherHash].status);
        // Plain ECDSA, as BatchCourt.checkVoucher: the prover must be able to answer with it.
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(voucherHash, signature);
        if (err != ECDSA.RecoverError.NoError || signer != v.client) revert BadVoucherSignature(v.client);
        // INVARIANT: the prover is only ever held to terms it offers today (as openJob, §5.3).
        INodeRegistry.Offer memory offer = nodes.getOffer(v.prover, v.modelId);
        // INVARIANT: only a model the prover offers (an unoffered one reads as price 0, which
        // needs no deposit and holds no penalty: free queue filling, attack review).
        if (!offer.active) revert NoOffer(v.prover, v.modelId);
        if (offer.inputPrice != v.inputPrice || offer.outputPrice != v.outputPrice) {
            revert PriceMismatch(offer.inputPrice, offer.outputPrice, v.inputPrice, v.outputPrice);
        }
        _checkRunnable(v, prompt);
        Params memory p = _params;
        // INVARIANT: openOf[prover][client] ≤ maxOpenPerClient, so one client's forced work is
        // bounded and no other party can fill its queue.
        if (openOf[v.prover][v.client] >= p.maxOpenPerClient) revert QueueFull(v.prover, v.client, p.maxOpenPerClient);
        ++openOf[v.prover][v.client];
        Publication memory pub = Publication({
            prover: v.prover,
            deadline: uint64(block.timestamp) + p.publishTimeout,
            status: Status.Open,
            client: v.client,
            declineDeadline: uint64(block.timestamp) + p.declineWindow,
            penalty: 0,
            nonce: v.nonce
        });
        uint256 collateral;
        (pub.penalty, collateral) = _checkPayable(v, pub.deadline, p.missedPenaltyBps);
        _publications[voucherHash] = pub;
        // The hold leaves room for the batch's own collateral: the voucher stays batchable.
        escrow.holdReserve(v.prover, pub.penalty, collateral);
        // No withdrawal of the deposit lands before the deadline, whatever the notice becomes.
        escrow.lockDeposit(v.client, v.prover, pub.deadline);
        emit VoucherPublished(voucherHash, v.prover, v.client, v, signature, prompt, pub);
    }

    /// @notice After an unanswered deadline (and one answer window for a batch committed at the
    /// deadline to be shown): the held penalty is slashed from the prover's
    /// reserve and credited to the client in the NodeRegistry. Anyone may call.
    function claimMissed(bytes32 voucherHash) external nonReentrant {
        Publication storage pub = _requireOpen(voucherHash);
        // A batch committed at the deadline still gets the escrow's answerWindow to be shown.
        uint64 claimableAfter = pub.deadline + escrow.params().answerWindow;
        if (block.timestamp <= claimableAfter) revert DeadlineNotPassed(voucherHash, claimableAfter);
        pub.status = Status.Missed;
        --openOf[pub.prover][pub.client];
        uint128 penalty = pub.penalty;
        escrow.freeReserve(pub.prover, penalty, true);
        // No fraud share, no jail: a missed deadline is not fraud (as refundExpired, §5.3).
        uint256 paid = nodes.slashStake(pub.prover, penalty, 0, 0);
        nodes.transferCredits(pub.client, paid);
        emit PublicationMissed(voucherHash, pub.prover, pub.client, paid);
    }

    // ------------------------------------------------------------------ prover

    /// @notice Show that the published voucher sits at `index` of a live batch the prover
    /// committed by the deadline, inside debit `entry` of the voucher's client, at its nonce (so
    /// the leaf is charged as that client's job, not hidden under another debit). Accepted until
    /// someone claims the miss (from one answer window after the deadline); anyone may send it.
    function answer(
        bytes32 voucherHash,
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        bytes32[] calldata proof
    ) external nonReentrant {
        Publication storage pub = _requireOpen(voucherHash);
        bytes32 batchId = escrow.requireLive(h);
        if (h.prover != pub.prover || h.committedAt > pub.deadline) revert WrongBatch(voucherHash, h.prover, h.committedAt);
        if (leaf.voucherHash != voucherHash || leaf.client != pub.client || leaf.nonce != pub.nonce) {
            revert WrongLeaf(voucherHash, leaf.voucherHash);
        }
        _checkInDebit(h, debits, entry, index, pub.client, pub.nonce);
        BatchTree.verify(h.jobsRoot, h.leafCount, leaf, index, proof);
        pub.status = Status.Answered;
        _close(pub);
        emit PublicationAnswered(voucherHash, pub.prover, batchId, index);
    }

    /// @notice The prover declines a published voucher within the decline window, with no
    /// penalty (e.g. a prompt it cannot finish in time). The client loses nothing: no batch
    /// charged the voucher, and its deposit stays withdrawable.
    function decline(bytes32 voucherHash) external nonReentrant {
        Publication storage pub = _requireOpen(voucherHash);
        if (msg.sender != pub.prover) revert NotProver(msg.sender, pub.prover);
        if (block.timestamp > pub.declineDeadline) revert DeclineWindowClosed(voucherHash, pub.declineDeadline);
        pub.status = Status.Declined;
        _close(pub);
        emit PublicationDeclined(voucherHash, pub.prover);
    }

    // ------------------------------------------------------------------ governance and views

    function setParams(Params calldata params_) external onlyRole(PARAMS_ROLE) {
        _setParams(params_);
    }

    function params() external view returns (Params memory) {
        return _params;
    }

    function publicationOf(bytes32 voucherHash) external view returns (Publication memory) {
        return _publications[voucherHash];
    }

    /// @notice The penalty a missed publication of `v` costs its prover.
    function penaltyOf(IVoucherEscrow.Voucher calldata v) external view returns (uint128) {
        return _penalty(_maxCharge(v) * escrow.params().collateralBps / BPS, _params.missedPenaltyBps);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The prompt is exactly the voucher's, every id embeds, the job fits the context and
    /// its sampling rule is judgeable: nothing the prover could not serve (as publishPrompt, §5.3).
    function _checkRunnable(IVoucherEscrow.Voucher calldata v, bytes calldata prompt) private view {
        if (prompt.length != uint256(v.inputTokens) * 4 || prompt.length == 0) revert InvalidPrompt(prompt.length, v.inputTokens);
        IModelRegistry.Architecture memory arch = models.getModel(v.modelId).arch;
        uint256 n = prompt.length / 4;
        for (uint256 i; i < n; ++i) {
            uint32 id = uint32(bytes4(prompt[4 * i:4 * i + 4]));
            if (id >= arch.vocab) revert InvalidTokenId(i, id);
        }
        bytes32 published = TokenRoot.root(prompt, 0);
        if (published != v.promptRoot) revert PromptMismatch(v.promptRoot, published);
        if (uint256(v.inputTokens) + v.maxOutputTokens > arch.context || v.maxOutputTokens == 0) {
            revert ExceedsContext(v.inputTokens, v.maxOutputTokens, arch.context);
        }
        if (!jobs.verifiableSampling(v.samplingParams)) revert UnverifiableSampling(v.samplingParams);
    }

    /// @dev A batch committed by `deadline` could charge the voucher: its nonce is unspent, the
    /// deposit covers its maximum and cannot be withdrawn before the deadline (a withdrawal
    /// requested later waits out the notice), and it is unexpired at the deadline.
    function _checkPayable(IVoucherEscrow.Voucher calldata v, uint64 deadline, uint16 penaltyBps)
        private
        view
        returns (uint128 penalty, uint256 collateral)
    {
        IVoucherEscrow.Account memory a = escrow.account(v.client, v.prover);
        if (v.nonce < a.nextNonce) revert NonceSpent(v.nonce, a.nextNonce);
        // commitBatch refuses lastNonce = 2^64 − 1 (the account's next nonce would overflow).
        if (v.nonce == type(uint64).max) revert UnchargeableNonce(v.nonce);
        uint256 maxCharge = _maxCharge(v);
        if (a.balance < maxCharge) revert DepositTooLow(a.balance, maxCharge);
        VoucherParams.Params memory ep = escrow.params();
        // INVARIANT: no withdrawal executes before the deadline — neither one pending now nor one
        // requested later (it waits withdrawalNotice) — so the prover's debit cannot be refused
        // for a deposit the client took back after publishing (attack review).
        if (a.withdrawableAt != 0 && a.withdrawableAt <= deadline) revert WithdrawalBeforeDeadline(a.withdrawableAt, deadline);
        if (uint64(block.timestamp) + ep.withdrawalNotice <= deadline) {
            revert WithdrawalBeforeDeadline(uint64(block.timestamp) + ep.withdrawalNotice, deadline);
        }
        if (v.expiry < deadline) revert ExpiresBeforeDeadline(v.expiry, deadline);
        collateral = maxCharge * ep.collateralBps / BPS;
        penalty = _penalty(collateral, penaltyBps);
        // A publication that costs nothing to miss would bind nobody.
        if (penalty == 0) revert NoPenalty();
    }

    function _maxCharge(IVoucherEscrow.Voucher calldata v) private pure returns (uint256) {
        return uint256(v.inputTokens) * v.inputPrice + uint256(v.maxOutputTokens) * v.outputPrice;
    }

    /// @dev ⌊collateral·missedPenaltyBps/10⁴⌋, collateral = ⌊maxCharge·collateralBps/10⁴⌋.
    function _penalty(uint256 collateral, uint16 penaltyBps) private pure returns (uint128) {
        return uint128(collateral * penaltyBps / BPS);
    }

    /// @dev Leaf `index` lies in debit `entry` of `client`, whose nonce range holds `nonce`.
    function _checkInDebit(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        uint32 index,
        address client,
        uint64 nonce
    ) private pure {
        if (keccak256(abi.encode(debits)) != h.debitsHash) revert DebitsMismatch();
        (uint256 start, uint256 end) = BatchTree.debitRange(debits, entry);
        IVoucherEscrow.Debit calldata d = debits[entry];
        if (index < start || index >= end || d.client != client || nonce < d.firstNonce || nonce > d.lastNonce) {
            revert NotInClientDebit(index, entry);
        }
    }

    function _requireOpen(bytes32 voucherHash) private view returns (Publication storage pub) {
        pub = _publications[voucherHash];
        if (pub.status != Status.Open) revert NotOpen(voucherHash, pub.status);
    }

    function _close(Publication storage pub) private {
        --openOf[pub.prover][pub.client];
        escrow.freeReserve(pub.prover, pub.penalty, false);
    }

    function _setParams(Params memory p) private {
        if (p.publishTimeout < MIN_WINDOW || p.publishTimeout > MAX_WINDOW) revert InvalidParams("publishTimeout");
        if (p.declineWindow == 0 || p.declineWindow >= p.publishTimeout) revert InvalidParams("declineWindow");
        if (p.missedPenaltyBps > BPS) revert InvalidParams("missedPenaltyBps");
        if (p.maxOpenPerClient == 0) revert InvalidParams("maxOpenPerClient");
        _params = p;
        emit ParamsUpdated(p);
    }
}
