// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IVoucherEscrow} from "../interfaces/IVoucherEscrow.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IJobAdoption} from "../interfaces/IJobAdoption.sol";
import {IAuditManager} from "../interfaces/IAuditManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {CreditLedger} from "../libraries/CreditLedger.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {BatchTree} from "./BatchTree.sol";
import {VoucherEscrow} from "./VoucherEscrow.sol";
import {VoucherParams} from "./VoucherParams.sol";

/// @title BatchCourt
/// @notice Disputes of voucher batches (docs/PROTOCOL.md §5.8). Any job of a live batch can be
/// moved, with a proof of its leaf, into the JobEscrow, where the step-proof and availability
/// games judge it like any job while the rest of the batch stays claimable. A batch whose leaves
/// contradict its debits (a neighbour proof), or whose prover cannot show a challenged leaf with
/// the client's voucher behind it, is voided: every client refunded, the batch's collateral and
/// the fraud share of the prover's stake slashed, the prover jailed, the finder rewarded.
/// Solvency: balance == challengeFeesHeld + totalCredits.
contract BatchCourt is CreditLedger, ReentrancyGuard {
    /// A leaf of a batch: its debit entry, index, content and positional proof.
    struct LeafRef {
        uint256 entry;
        uint32 index;
        IVoucherEscrow.JobLeaf leaf;
        bytes32[] proof;
    }

    /// The client's voucher and its ECDSA signature.
    struct SignedVoucher {
        IVoucherEscrow.Voucher voucher;
        bytes signature;
    }

    /// Why a batch was voided (BatchVoided.reason).
    uint8 public constant VOID_MISCOUNT = 1;
    uint8 public constant VOID_UNANSWERED = 2;
    /// A challenge answered in time (or refunded) keeps its record with this deadline.
    uint64 internal constant ANSWERED = type(uint64).max;

    VoucherEscrow public immutable escrow;
    IERC20 public immutable token;
    INodeRegistry public immutable nodes;
    IModelRegistry public immutable models;
    IJobAdoption public immutable jobs;

    /// @notice Challenge fees paid and not yet credited to a prover or refunded.
    uint256 public challengeFeesHeld;
    // Per-batch dispute state is keyed by the batch's instance, keccak256(prover, debitsHash):
    // debits carry nonces that only grow, so no two commits of a prover share it, even of the
    // same root into the same slot (a replayed root must not inherit an old batch's adoptions).
    mapping(bytes32 instance => mapping(uint32 index => uint256 jobId)) public adoptedJob;
    mapping(bytes32 instance => mapping(uint256 entry => uint256)) public adoptedCharge;
    /// A (client, nonce) moves into the JobEscrow once per batch: one voucher placed at two
    /// indices is not charged twice (attack review).
    mapping(bytes32 instance => mapping(bytes32 clientNonce => bool)) public adoptedVoucher;
    mapping(bytes32 instance => mapping(uint32 index => IVoucherEscrow.LeafChallenge)) private _challenges;
    mapping(bytes32 instance => bool) public voided;

    error ChallengeWindowClosed(bytes32 batchId, uint64 challengeDeadline);
    error DebitsMismatch(bytes32 batchId);
    error LeafOutsideEntry(uint32 index, uint256 entry);
    error WrongClient(uint32 index, address leafClient, address debitClient);
    error AlreadyAdopted(bytes32 instance, uint32 index, uint256 jobId);
    error ChargeExceedsDebit(uint256 entry, uint256 charge, uint256 left);
    error ExceedsContext(uint32 inputTokens, uint32 outputTokens, uint32 context);
    error UnverifiableSampling(uint256 samplingParams);
    error AlreadyChallenged(bytes32 instance, uint32 index);
    error NoChallenge(bytes32 instance, uint32 index);
    error AnswerWindowClosed(bytes32 instance, uint32 index, uint64 deadline);
    error AnswerWindowOpen(bytes32 instance, uint32 index, uint64 deadline);
    error VoucherMismatch(uint32 index, string field);
    error BadVoucherSignature(uint32 index, address client);
    error NoMiscount(uint32 index);
    error NotVoided(bytes32 instance);
    error NonceOutsideDebit(uint32 index, uint64 nonce);
    error VoucherAlreadyAdopted(bytes32 instance, address client, uint64 nonce);

    /// @notice A leaf moved to the JobEscrow as `jobId`, to be disputed there.
    event JobAdopted(bytes32 indexed batchId, uint32 index, uint256 indexed jobId, address indexed by, uint256 charge, uint256 collateral);
    event LeafChallenged(bytes32 indexed batchId, uint32 index, address indexed challenger, uint64 deadline);
    event LeafAnswered(bytes32 indexed batchId, uint32 index);
    event ChallengeFeeRefunded(bytes32 indexed instance, uint32 index, address indexed challenger, uint256 fee);
    /// @notice The batch was proven inconsistent: every client refunded, the prover slashed.
    event BatchVoided(bytes32 indexed batchId, address indexed prover, address indexed by, uint8 reason, uint256 slashed, uint256 reward);

    constructor(VoucherEscrow escrow_, INodeRegistry nodes_, IModelRegistry models_) {
        escrow = escrow_;
        token = escrow_.token();
        jobs = escrow_.jobs();
        nodes = nodes_;
        models = models_;
    }

    // ------------------------------------------------------------------ moving a job to a dispute

    /// @notice Move one job of a live batch into the JobEscrow, where the step-proof and
    /// availability games dispute it like any job. The leaf must come with the client's signed
    /// voucher allowing it (checkVoucher) and a nonce inside its debit: only a job a client
    /// authorised can be paid from the JobEscrow, and each voucher once. Its charge and a
    /// proportional part of the batch's collateral move with it; the rest of the batch stays
    /// claimable. Anyone may call, until the batch's challenge deadline or, after an answered
    /// challenge revealed a voucher, until the batch's hold ends; the job gets a fresh challenge
    /// window there.
    function adoptJob(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        LeafRef calldata ref,
        SignedVoucher calldata sv
    ) external nonReentrant returns (uint256 jobId) {
        bytes32 batchId = escrow.requireLive(h);
        (IVoucherEscrow.BatchState memory st,) = escrow.batchState(batchId);
        if (block.timestamp > h.challengeDeadline && block.timestamp > st.holdUntil) revert ChallengeWindowClosed(batchId, h.challengeDeadline);
        _checkLeaf(batchId, h, debits, ref.entry, ref.leaf, ref.index, ref.proof);
        checkVoucher(h, ref.leaf, ref.index, sv.voucher, sv.signature);
        IVoucherEscrow.Debit calldata d = debits[ref.entry];
        if (ref.leaf.nonce < d.firstNonce || ref.leaf.nonce > d.lastNonce) revert NonceOutsideDebit(ref.index, ref.leaf.nonce);
        jobId = _adopt(batchId, h, d.amount, ref.entry, ref.leaf, ref.index);
    }

    function _adopt(
        bytes32 batchId,
        IVoucherEscrow.BatchHeader calldata h,
        uint256 debitAmount,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index
    ) private returns (uint256 jobId) {
        bytes32 instance = escrow.instanceOf(h.prover, h.debitsHash);
        uint256 existing = adoptedJob[instance][index];
        if (existing != 0) revert AlreadyAdopted(instance, index, existing);
        bytes32 key = keccak256(abi.encode(leaf.client, leaf.nonce));
        if (adoptedVoucher[instance][key]) revert VoucherAlreadyAdopted(instance, leaf.client, leaf.nonce);
        adoptedVoucher[instance][key] = true;
        uint256 charge = chargeOf(leaf);
        uint256 left = debitAmount - adoptedCharge[instance][entry];
        // Leaves that add up (nothing provable by a miscount proof) never exceed their debit.
        if (charge > left) revert ChargeExceedsDebit(entry, charge, left);
        adoptedCharge[instance][entry] += charge;
        uint256 collateral = escrow.releaseToJob(h, charge);
        jobId = jobs.adoptBatchedJob(_jobOf(h, leaf, charge, collateral));
        adoptedJob[instance][index] = jobId;
        emit JobAdopted(batchId, index, jobId, msg.sender, charge, collateral);
    }

    // ------------------------------------------------------------------ leaf challenges

    /// @notice Demand that the prover show leaf `index` with the client's voucher behind it
    /// (withheld leaves, vouchers the client never signed, terms the voucher does not allow).
    /// The caller pays `challengeFee`, credited to the prover when it answers. While a
    /// challenge is open the batch cannot be claimed.
    function challengeLeaf(IVoucherEscrow.BatchHeader calldata h, uint32 index) external nonReentrant {
        bytes32 batchId = escrow.requireLive(h);
        if (block.timestamp > h.challengeDeadline) revert ChallengeWindowClosed(batchId, h.challengeDeadline);
        if (index >= h.leafCount) revert BatchTree.InvalidLeafProof(index, h.leafCount);
        bytes32 instance = escrow.instanceOf(h.prover, h.debitsHash);
        if (_challenges[instance][index].challenger != address(0)) revert AlreadyChallenged(instance, index);
        uint128 fee = escrow.challengeFee();
        uint64 deadline = uint64(block.timestamp) + escrow.params().answerWindow;
        _challenges[instance][index] =
            IVoucherEscrow.LeafChallenge({challenger: msg.sender, deadline: deadline, fee: fee});
        challengeFeesHeld += fee;
        escrow.noteChallenge(h, true, 0);
        if (fee != 0) TokenTransfers.pullExact(token, msg.sender, fee);
        emit LeafChallenged(batchId, index, msg.sender, deadline);
    }

    /// @notice Answer a leaf challenge with the leaf, its proof and the client's signed voucher,
    /// which must allow exactly what the leaf charges (checkVoucher).
    function answerLeaf(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        bytes32[] calldata proof,
        IVoucherEscrow.Voucher calldata voucher,
        bytes calldata signature
    ) external nonReentrant {
        bytes32 batchId = escrow.requireLive(h);
        _checkLeaf(batchId, h, debits, entry, leaf, index, proof);
        checkVoucher(h, leaf, index, voucher, signature);
        _answered(batchId, h, index);
    }

    /// @dev Close an open, unexpired challenge of leaf `index`: its fee goes to the prover.
    function _answered(bytes32 batchId, IVoucherEscrow.BatchHeader calldata h, uint32 index) private {
        bytes32 instance = escrow.instanceOf(h.prover, h.debitsHash);
        IVoucherEscrow.LeafChallenge storage c = _challenges[instance][index];
        if (c.challenger == address(0) || c.deadline == ANSWERED) revert NoChallenge(instance, index);
        if (block.timestamp > c.deadline) revert AnswerWindowClosed(instance, index, c.deadline);
        c.deadline = ANSWERED;
        uint128 fee = c.fee;
        challengeFeesHeld -= fee;
        _credit(h.prover, fee);
        // The revealed voucher lets anyone move the job into the JobEscrow for one more answer
        // window, even past the challenge deadline; the batch waits that long to be claimed.
        escrow.noteChallenge(h, false, escrow.params().answerWindow);
        emit LeafAnswered(batchId, index);
    }

    /// @notice Void a batch whose prover let a leaf challenge pass unanswered. The challenger
    /// gets its fee back and the reward share of the slash.
    function voidUnanswered(IVoucherEscrow.BatchHeader calldata h, IVoucherEscrow.Debit[] calldata debits, uint32 index)
        external
        nonReentrant
    {
        bytes32 batchId = escrow.requireLive(h);
        if (keccak256(abi.encode(debits)) != h.debitsHash) revert DebitsMismatch(batchId);
        bytes32 instance = escrow.instanceOf(h.prover, h.debitsHash);
        IVoucherEscrow.LeafChallenge storage c = _challenges[instance][index];
        if (c.challenger == address(0) || c.deadline == ANSWERED) revert NoChallenge(instance, index);
        if (block.timestamp <= c.deadline) revert AnswerWindowOpen(instance, index, c.deadline);
        address challenger = c.challenger;
        _refundChallengeFee(instance, index, c);
        _void(batchId, h, debits, challenger, VOID_UNANSWERED);
    }

    /// @notice After a void, a challenger whose challenge was still open gets its fee back.
    function recoverChallengeFee(bytes32 instance, uint32 index) external nonReentrant {
        if (!voided[instance]) revert NotVoided(instance);
        IVoucherEscrow.LeafChallenge storage c = _challenges[instance][index];
        if (c.challenger == address(0) || c.deadline == ANSWERED) revert NoChallenge(instance, index);
        _refundChallengeFee(instance, index, c);
    }

    // ------------------------------------------------------------------ miscount proofs

    /// @notice Void a batch one of whose leaves contradicts its debit: a leaf of another client,
    /// or the first/last leaf of a debit without its first/last nonce or with a running total
    /// that does not start at its own charge / end at the debit's amount.
    function proveLeafMiscount(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        bytes32[] calldata proof
    ) external nonReentrant {
        bytes32 batchId = escrow.requireLive(h);
        (uint256 start, uint256 end) = _entryRange(batchId, h, debits, entry);
        if (index < start || index >= end) revert LeafOutsideEntry(index, entry);
        BatchTree.verify(h.jobsRoot, h.leafCount, leaf, index, proof);
        IVoucherEscrow.Debit calldata d = debits[entry];
        bool fraud = leaf.client != d.client;
        if (index == start) fraud = fraud || leaf.nonce != d.firstNonce || leaf.cumulative != chargeOf(leaf);
        if (index == end - 1) fraud = fraud || leaf.nonce != d.lastNonce || leaf.cumulative != d.amount;
        if (!fraud) revert NoMiscount(index);
        _void(batchId, h, debits, msg.sender, VOID_MISCOUNT);
    }

    /// @notice Void a batch in which leaf `index + 1` of a debit does not follow leaf `index`:
    /// its nonce is not larger, or its running total is not the previous one plus its charge.
    function proveNeighbourMiscount(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata a,
        uint32 index,
        bytes32[] calldata proofA,
        IVoucherEscrow.JobLeaf calldata b,
        bytes32[] calldata proofB
    ) external nonReentrant {
        bytes32 batchId = escrow.requireLive(h);
        (uint256 start, uint256 end) = _entryRange(batchId, h, debits, entry);
        if (index < start || uint256(index) + 1 >= end) revert LeafOutsideEntry(index, entry);
        BatchTree.verify(h.jobsRoot, h.leafCount, a, index, proofA);
        BatchTree.verify(h.jobsRoot, h.leafCount, b, index + 1, proofB);
        if (b.nonce > a.nonce && uint256(b.cumulative) == uint256(a.cumulative) + chargeOf(b)) revert NoMiscount(index);
        _void(batchId, h, debits, msg.sender, VOID_MISCOUNT);
    }

    /// @notice Withdraw the caller's credits (answered challenge fees, refunded fees).
    function withdraw() external nonReentrant {
        _withdrawCredits(token);
    }

    // ------------------------------------------------------------------ views

    function challengeOf(bytes32 instance, uint32 index) external view returns (IVoucherEscrow.LeafChallenge memory) {
        return _challenges[instance][index];
    }

    function leafHash(IVoucherEscrow.JobLeaf calldata leaf) external pure returns (bytes32) {
        return BatchTree.leafHash(leaf);
    }

    /// @notice What a leaf charges: inputTokens·inputPrice + outputTokens·outputPrice.
    function chargeOf(IVoucherEscrow.JobLeaf calldata leaf) public pure returns (uint256) {
        return uint256(leaf.inputTokens) * leaf.inputPrice + uint256(leaf.outputTokens) * leaf.outputPrice;
    }

    /// @notice Reverts unless `voucher`, signed by the leaf's client's key (ECDSA),
    /// allows exactly the leaf: same prover, model, prompt, sampling rule, prompt length and
    /// prices, the same nonce, 1..maxOutputTokens outputs, unexpired when the batch was
    /// committed, a non-empty result, a sampling rule the judge can check and a length within
    /// the model's context.
    function checkVoucher(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        IVoucherEscrow.Voucher calldata v,
        bytes calldata signature
    ) public view {
        bytes32 digest = escrow.voucherDigest(v);
        if (digest != leaf.voucherHash) revert VoucherMismatch(index, "voucherHash");
        if (v.client != leaf.client) revert VoucherMismatch(index, "client");
        // Plain ECDSA only: an ERC-1271 wallet (or an EOA that later gains code, EIP-7702) could
        // revoke a voucher after being served and void an honest batch (attack review).
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != v.client) revert BadVoucherSignature(index, v.client);
        if (v.prover != h.prover) revert VoucherMismatch(index, "prover");
        if (v.nonce != leaf.nonce) revert VoucherMismatch(index, "nonce");
        if (v.modelId != leaf.modelId || v.promptRoot != leaf.promptRoot) revert VoucherMismatch(index, "prompt");
        if (v.samplingParams != leaf.samplingParams) revert VoucherMismatch(index, "samplingParams");
        if (v.inputTokens != leaf.inputTokens) revert VoucherMismatch(index, "inputTokens");
        if (leaf.outputTokens == 0 || leaf.outputTokens > v.maxOutputTokens) revert VoucherMismatch(index, "outputTokens");
        if (v.inputPrice != leaf.inputPrice || v.outputPrice != leaf.outputPrice) revert VoucherMismatch(index, "prices");
        if (v.expiry < h.committedAt) revert VoucherMismatch(index, "expiry");
        if (leaf.traceRoot == bytes32(0) || leaf.outputRoot == bytes32(0)) revert VoucherMismatch(index, "result");
        _checkJudgeable(leaf);
    }

    // ------------------------------------------------------------------ internals

    /// @dev Leaves [start, end) belong to debit `entry`.
    function _entryRange(
        bytes32 batchId,
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry
    ) private pure returns (uint256 start, uint256 end) {
        if (keccak256(abi.encode(debits)) != h.debitsHash) revert DebitsMismatch(batchId);
        (start, end) = BatchTree.debitRange(debits, entry);
    }

    /// @dev The leaf is at `index` of the batch, inside debit `entry`, of that debit's client.
    function _checkLeaf(
        bytes32 batchId,
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        uint256 entry,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint32 index,
        bytes32[] calldata proof
    ) private pure {
        (uint256 start, uint256 end) = _entryRange(batchId, h, debits, entry);
        if (index < start || index >= end) revert LeafOutsideEntry(index, entry);
        if (leaf.client != debits[entry].client) revert WrongClient(index, leaf.client, debits[entry].client);
        BatchTree.verify(h.jobsRoot, h.leafCount, leaf, index, proof);
    }

    /// @dev A sampling rule the judge can check, within the model's context (as openJob, §5.3).
    function _checkJudgeable(IVoucherEscrow.JobLeaf calldata leaf) private view {
        if (!jobs.verifiableSampling(leaf.samplingParams)) revert UnverifiableSampling(leaf.samplingParams);
        uint32 context = models.getModel(leaf.modelId).arch.context;
        if (uint256(leaf.inputTokens) + leaf.outputTokens > context) {
            revert ExceedsContext(leaf.inputTokens, leaf.outputTokens, context);
        }
    }

    /// @dev The leaf's charge, checked to be judgeable and within what its debit has left.
    function _takeCharge(bytes32 instance, uint256 debitAmount, uint256 entry, IVoucherEscrow.JobLeaf calldata leaf)
        private
        returns (uint256 charge)
    {
        _checkJudgeable(leaf);
        charge = chargeOf(leaf);
        uint256 left = debitAmount - adoptedCharge[instance][entry];
        // Leaves that add up (nothing provable by a miscount proof) never exceed their debit.
        if (charge > left) revert ChargeExceedsDebit(entry, charge, left);
        adoptedCharge[instance][entry] += charge;
    }

    function _jobOf(
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.JobLeaf calldata leaf,
        uint256 charge,
        uint256 collateral
    ) private view returns (IJobEscrow.Job memory job) {
        job.client = leaf.client;
        job.prover = h.prover;
        job.modelId = leaf.modelId;
        job.promptRoot = leaf.promptRoot;
        job.samplingParams = leaf.samplingParams;
        job.traceRoot = leaf.traceRoot;
        job.outputRoot = leaf.outputRoot;
        job.inputPrice = leaf.inputPrice;
        job.outputPrice = leaf.outputPrice;
        job.escrowed = uint128(charge);
        job.collateral = uint128(collateral);
        job.inputTokens = leaf.inputTokens;
        job.maxOutputTokens = leaf.outputTokens;
        job.outputTokens = leaf.outputTokens;
        job.challengeWindow = escrow.params().challengeWindow;
        job.feeBps = h.feeBps;
        job.auditFeeBps = h.auditFeeBps;
    }

    /// @dev Proven inconsistency: the escrow settles the slot and returns every debit not moved
    /// to the JobEscrow to its client's deposit; here the batch's collateral and the fraud share
    /// of the prover's stake are slashed with a jail (PROTOCOL §9.4) and `by` gets the reward.
    function _void(
        bytes32 batchId,
        IVoucherEscrow.BatchHeader calldata h,
        IVoucherEscrow.Debit[] calldata debits,
        address by,
        uint8 reason
    ) private {
        bytes32 instance = escrow.instanceOf(h.prover, h.debitsHash);
        voided[instance] = true;
        uint256[] memory refunds = new uint256[](debits.length);
        for (uint256 i; i < debits.length; ++i) {
            refunds[i] = debits[i].amount - adoptedCharge[instance][i];
        }
        (uint16 shareBps, uint32 jailPeriod) = IAuditManager(jobs.auditManager()).fraudPenalty();
        uint256 fromLocked = escrow.voidBatch(h, debits, refunds, shareBps);
        uint256 slashed = nodes.slashStake(h.prover, fromLocked, shareBps, uint64(block.timestamp) + jailPeriod);
        VoucherParams.Params memory p = escrow.params();
        uint256 reward = slashed * p.challengerRewardBps / 10_000;
        if (reward != 0) nodes.transferCredits(by, reward);
        if (slashed > reward) nodes.transferCredits(jobs.treasury(), slashed - reward);
        emit BatchVoided(batchId, h.prover, by, reason, slashed, reward);
    }

    function _refundChallengeFee(bytes32 instance, uint32 index, IVoucherEscrow.LeafChallenge storage c) private {
        uint128 fee = c.fee;
        c.deadline = ANSWERED;
        challengeFeesHeld -= fee;
        _credit(c.challenger, fee);
        emit ChallengeFeeRefunded(instance, index, c.challenger, fee);
    }
}
