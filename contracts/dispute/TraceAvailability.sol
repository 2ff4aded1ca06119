// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {CommitmentLeaf} from "../libraries/CommitmentLeaf.sol";
import {CreditLedger} from "../libraries/CreditLedger.sol";

/// @title Trace availability challenges (docs/PROTOCOL.md §8.1)
/// @notice A verifier that is not served a committed job's trace names up to MAX_LEAVES of its
/// leaves; the prover must publish them on-chain (bytes and proofs in the log) against the job's
/// commitments before `answerWindow` ends, or the job is slashed as if fraud were proven. Every
/// winning step proof needs trace openings, so without this a prover that never serves its trace
/// could never lose.
/// @dev Each challenge freezes the job's settlement through the escrow's dispute hook, like a
/// step dispute. The challenger pays `leafFee` per leaf, escrowed here and credited to the prover
/// when it answers (its gas for publishing them), so challenges cannot grief an honest prover;
/// the fees go back to the challenger when the prover fails. Pull payments; every mutating entry
/// point is `nonReentrant` and writes its state before any external call.
contract TraceAvailability is CreditLedger, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Open, // prover's turn: publish the leaves by `deadline`
        Answered,
        ProverFailed, // deadline passed unanswered: the job was slashed
        Cancelled // another dispute slashed the job first; fees returned
    }

    /// @notice A leaf of a job's trace commitments (PROTOCOL §3.4): `tensor` = boundary l
    /// (0..L) for hidden state h[row][l], chunk < ceil(hidden / C); or TOKEN_TENSOR for the token
    /// at position `row` (chunk 0), read from the prompt root (row < inputTokens) or the output
    /// root.
    struct Leaf {
        uint256 tensor;
        uint256 row;
        uint256 chunk;
    }

    struct Challenge {
        uint256 jobId;
        address challenger;
        uint64 deadline;
        Status status;
        uint16 leafCount;
        address prover;
        /// The challenge's sequence number among the job's disputes (PROTOCOL §9.5).
        uint32 seq;
        uint128 fees;
        bytes32 leavesHash;
    }

    /// Most leaves one challenge may name: a 16-leaf answer of binary32 chunks at C = 256 is
    /// ≈ 16 KB of data plus proofs, inside the 32 KB and 2M-gas budgets of §7.7.
    uint16 public constant MAX_LEAVES = 16;

    IJobEscrow public immutable escrow;
    IModelRegistry public immutable models;
    IERC20 public immutable token;
    uint128 public immutable leafFee;
    uint64 public immutable answerWindow;

    mapping(bytes32 challengeId => Challenge) private _challenges;
    /// Fees of open challenges; with `totalCredits` everything this contract owes.
    uint256 public feesHeld;

    error InvalidParameters();
    error JobNotCommitted(uint256 jobId, IJobEscrow.JobStatus status);
    error ProverCannotChallenge(uint256 jobId);
    error LeafCount(uint256 given, uint256 max);
    error NotATraceLeaf(uint256 jobId, uint256 tensor, uint256 row, uint256 chunk);
    error ChallengeExists(bytes32 challengeId);
    error WrongStatus(bytes32 challengeId, Status status);
    error NotProver(bytes32 challengeId, address caller);
    error WrongLeaves(bytes32 challengeId);
    error AnswerLengths(uint256 leaves, uint256 data, uint256 proofs);
    error DeadlinePassed(bytes32 challengeId, uint64 deadline);
    error DeadlineNotPassed(bytes32 challengeId, uint64 deadline);
    error JobNotSlashed(uint256 jobId);

    event AvailabilityChallenged(
        bytes32 indexed challengeId, uint256 indexed jobId, address indexed challenger, Leaf[] leaves, uint128 fees, uint64 deadline
    );
    /// Carries every answered chunk and its proof, so anyone can use them.
    event AvailabilityAnswered(bytes32 indexed challengeId, uint256 indexed jobId, Leaf[] leaves, bytes[] data, bytes32[][] proofs);
    event AvailabilityFailed(bytes32 indexed challengeId, uint256 indexed jobId, address indexed challenger);
    event AvailabilityCancelled(bytes32 indexed challengeId, uint256 indexed jobId);

    constructor(IJobEscrow escrow_, IModelRegistry models_, IERC20 token_, uint128 leafFee_, uint64 answerWindow_) {
        if (answerWindow_ == 0) revert InvalidParameters();
        escrow = escrow_;
        models = models_;
        token = token_;
        leafFee = leafFee_;
        answerWindow = answerWindow_;
    }

    /// @notice Content-derived id: one challenge per (job, challenger, leaf set).
    function challengeIdOf(uint256 jobId, address challenger, Leaf[] calldata leaves) public pure returns (bytes32) {
        return keccak256(abi.encode(jobId, challenger, keccak256(abi.encode(leaves))));
    }

    function getChallenge(bytes32 challengeId) external view returns (Challenge memory) {
        return _challenges[challengeId];
    }

    /// @notice Demand `leaves` of a committed job's trace; pays `leafFee` per leaf.
    function challenge(uint256 jobId, Leaf[] calldata leaves) external nonReentrant returns (bytes32 challengeId) {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        if (job.status != IJobEscrow.JobStatus.Committed) revert JobNotCommitted(jobId, job.status);
        if (msg.sender == job.prover) revert ProverCannotChallenge(jobId);
        if (leaves.length == 0 || leaves.length > MAX_LEAVES) revert LeafCount(leaves.length, MAX_LEAVES);
        _checkLeaves(jobId, job, leaves);
        challengeId = challengeIdOf(jobId, msg.sender, leaves);
        Challenge storage c = _challenges[challengeId];
        if (c.status != Status.None) revert ChallengeExists(challengeId);

        uint128 fees = leafFee * uint128(leaves.length);
        uint64 deadline = uint64(block.timestamp) + answerWindow;
        c.jobId = jobId;
        c.challenger = msg.sender;
        c.deadline = deadline;
        c.status = Status.Open;
        c.leafCount = uint16(leaves.length);
        c.prover = job.prover;
        c.fees = fees;
        c.leavesHash = keccak256(abi.encode(leaves));
        feesHeld += fees;
        emit AvailabilityChallenged(challengeId, jobId, msg.sender, leaves, fees, deadline);

        // The escrow enforces the challenge deadline and the auditor's priority (PROTOCOL §9.1),
        // and freezes settlement until resolved.
        c.seq = escrow.onDisputeOpened(jobId, msg.sender);
        if (fees > 0) token.safeTransferFrom(msg.sender, address(this), fees);
    }

    /// @notice The prover publishes the demanded leaves (same order) with their proofs.
    function answer(bytes32 challengeId, Leaf[] calldata leaves, bytes[] calldata data, bytes32[][] calldata proofs)
        external
        nonReentrant
    {
        Challenge storage c = _open(challengeId);
        if (msg.sender != c.prover) revert NotProver(challengeId, msg.sender);
        if (block.timestamp > c.deadline) revert DeadlinePassed(challengeId, c.deadline);
        if (keccak256(abi.encode(leaves)) != c.leavesHash) revert WrongLeaves(challengeId);
        if (data.length != leaves.length || proofs.length != leaves.length) {
            revert AnswerLengths(leaves.length, data.length, proofs.length);
        }
        uint256 jobId = c.jobId;
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        for (uint256 i = 0; i < leaves.length; ++i) {
            Leaf calldata lf = leaves[i];
            CommitmentLeaf.verifyChunk(_rootOf(job, lf), CommitmentLeaf.TRACE_DOMAIN, lf.tensor, lf.row, lf.chunk, data[i], proofs[i]);
        }
        c.status = Status.Answered;
        _pay(c, c.prover);
        emit AvailabilityAnswered(challengeId, jobId, leaves, data, proofs);
        escrow.onDisputeResolved(jobId, c.seq, false, c.challenger);
    }

    /// @notice After an unanswered deadline (from the second after it): the prover is at fault.
    function claimUnanswered(bytes32 challengeId) external nonReentrant {
        Challenge storage c = _open(challengeId);
        if (block.timestamp <= c.deadline) revert DeadlineNotPassed(challengeId, c.deadline);
        c.status = Status.ProverFailed;
        _pay(c, c.challenger);
        emit AvailabilityFailed(challengeId, c.jobId, c.challenger);
        escrow.onDisputeResolved(c.jobId, c.seq, true, c.challenger);
    }

    /// @notice Once another dispute has slashed the job, anyone may close this challenge: the
    /// fees go back to the challenger and nobody is at fault again.
    function cancelAfterSlash(bytes32 challengeId) external nonReentrant {
        Challenge storage c = _open(challengeId);
        uint256 jobId = c.jobId;
        if (escrow.getJob(jobId).status != IJobEscrow.JobStatus.Slashed) revert JobNotSlashed(jobId);
        c.status = Status.Cancelled;
        _pay(c, c.challenger);
        emit AvailabilityCancelled(challengeId, jobId);
        escrow.onDisputeResolved(jobId, c.seq, false, c.challenger);
    }

    /// @notice Withdraw everything credited to the caller (fees earned or returned).
    function withdraw() external nonReentrant {
        _withdrawCredits(token);
    }

    // ---------------------------------------------------------------- internals

    function _open(bytes32 challengeId) private view returns (Challenge storage c) {
        c = _challenges[challengeId];
        if (c.status != Status.Open) revert WrongStatus(challengeId, c.status);
    }

    /// @dev Move a challenge's fees to `to`'s credit. INVARIANT: balance ≥ feesHeld + totalCredits.
    function _pay(Challenge storage c, address to) private {
        uint128 fees = c.fees;
        feesHeld -= fees;
        _credit(to, fees);
    }

    /// @dev Only leaves an honest job's commitments hold can be demanded, so an honest prover can
    /// always answer: h[p][l] for p ≤ N − 2 (the last token is never fed back), l ≤ L, chunk <
    /// ceil(hidden / C); tokens at p ≤ N − 1, chunk 0.
    function _checkLeaves(uint256 jobId, IJobEscrow.Job memory job, Leaf[] calldata leaves) private view {
        IModelRegistry.Model memory model = models.getModel(job.modelId);
        uint256 n = uint256(job.inputTokens) + job.outputTokens;
        uint256 chunks = (uint256(model.arch.hidden) + model.encoding.chunkSize - 1) / model.encoding.chunkSize;
        for (uint256 i = 0; i < leaves.length; ++i) {
            Leaf calldata lf = leaves[i];
            bool ok = lf.tensor == CommitmentLeaf.TOKEN_TENSOR
                ? lf.row < n && lf.chunk == 0
                : lf.tensor <= model.arch.layers && lf.row + 2 <= n && lf.chunk < chunks;
            if (!ok) revert NotATraceLeaf(jobId, lf.tensor, lf.row, lf.chunk);
        }
    }

    /// @dev Hidden states open against the trace root; tokens against the client's prompt root
    /// (positions < inputTokens) or the committed output root (PROTOCOL §3.4).
    function _rootOf(IJobEscrow.Job memory job, Leaf calldata lf) private pure returns (bytes32) {
        if (lf.tensor != CommitmentLeaf.TOKEN_TENSOR) return job.traceRoot;
        return lf.row < job.inputTokens ? job.promptRoot : job.outputRoot;
    }
}
