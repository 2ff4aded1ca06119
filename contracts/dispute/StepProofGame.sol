// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {CommitmentLeaf} from "../libraries/CommitmentLeaf.sol";
import {IStepJudge} from "./IStepJudge.sol";
import {StepLayout} from "./StepLayout.sol";

/// @title Step-proof dispute game (docs/PROTOCOL.md §7)
/// @notice A challenger bonds and names one step (job, position t, layer l) of a committed
/// trace; the prover answers with the step root of that step's intermediates; the challenger
/// wins by proving one element of one operation inconsistent with its committed inputs
/// (judged by `IStepJudge`), or when the prover's chess clock runs out. The challenger loses
/// the bond when its own clock runs out. Four transactions in the normal case, each
/// O(C + n/C) gas whatever the model size.
/// @dev Pull payments: bonds are credited and withdrawn with `withdraw`. Every mutating entry
/// point is `nonReentrant` and writes its state before any external call.
contract StepProofGame is ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Phase {
        None,
        AwaitingStepRoot, // prover's clock
        AwaitingProof, // challenger's clock
        AwaitingData, // prover's clock: a demanded chunk must be revealed
        ProverWon,
        ChallengerWon,
        Cancelled // the job was slashed by another dispute; bond returned
    }

    struct Dispute {
        uint256 jobId;
        address challenger;
        uint32 position;
        uint32 layer;
        Phase phase;
        uint8 demandsUsed;
        address prover;
        uint64 turnStartedAt;
        uint64 proverClockLeft;
        uint64 challengerClockLeft;
        uint128 bond;
        bytes32 stepRoot;
        // The outstanding data-availability demand (valid in AwaitingData).
        uint256 demandTensor;
        uint256 demandRow;
        uint256 demandChunk;
    }

    /// Most chunks a challenger may demand in one dispute, so demands cannot grief the prover.
    uint8 public constant MAX_DEMANDS = 8;

    IJobEscrow public immutable escrow;
    IModelRegistry public immutable models;
    IStepJudge public immutable judge;
    IERC20 public immutable token;
    uint128 public immutable challengerBond;
    uint64 public immutable proverClock;
    uint64 public immutable challengerClock;

    mapping(bytes32 disputeId => Dispute) private _disputes;
    mapping(address account => uint256) public credits;
    /// Sum of `credits`; with `bondsHeld` it is everything this contract owes.
    uint256 public totalCredits;
    /// Bonds of unresolved disputes.
    uint256 public bondsHeld;

    error JobNotCommitted(uint256 jobId, IJobEscrow.JobStatus status);
    error StepOutOfRange(uint256 jobId, uint256 position, uint256 layer);
    error ProverCannotChallenge(uint256 jobId);
    error DisputeExists(bytes32 disputeId);
    error UnknownDispute(bytes32 disputeId);
    error WrongPhase(bytes32 disputeId, Phase phase);
    error NotProver(bytes32 disputeId, address caller);
    error NotChallenger(bytes32 disputeId, address caller);
    error ClockExpired(bytes32 disputeId, uint256 deadline);
    error ClockRunning(bytes32 disputeId, uint256 deadline);
    error DemandLimitReached(bytes32 disputeId, uint8 limit);
    error NoFraud(bytes32 disputeId, uint8 op, int256 claimed, int256 ref, uint256 bound);
    error JobNotSlashed(uint256 jobId);
    error NothingToWithdraw(address account);
    error InvalidParameters();
    error NotAStepLeaf(bytes32 disputeId, uint256 tensor, uint256 row, uint256 chunk);

    event DisputeOpened(
        bytes32 indexed disputeId,
        uint256 indexed jobId,
        address indexed challenger,
        uint32 position,
        uint32 layer,
        uint128 bond
    );
    event StepRootPosted(bytes32 indexed disputeId, bytes32 stepRoot, uint64 proverClockLeft);
    event ChunkDemanded(bytes32 indexed disputeId, uint256 tensor, uint256 row, uint256 chunk, uint8 demandsUsed);
    /// Carries the revealed bytes and their proof, so anyone can use the chunk in a proof.
    event ChunkRevealed(
        bytes32 indexed disputeId, uint256 tensor, uint256 row, uint256 chunk, bytes data, bytes32[] proof
    );
    event FraudProven(
        bytes32 indexed disputeId, uint256 tensor, uint256 row, uint256 col, uint8 op, int256 claimed, int256 ref, uint256 bound
    );
    event MalformedCommitmentProven(bytes32 indexed disputeId, uint256 tensor, uint256 row, uint256 col, bytes reason);
    event TimeoutClaimed(bytes32 indexed disputeId, bool proverTimedOut, uint256 deadline);
    event DisputeResolved(bytes32 indexed disputeId, uint256 indexed jobId, bool proverAtFault, address bondTo);
    event DisputeCancelled(bytes32 indexed disputeId, uint256 indexed jobId);
    event Withdrawn(address indexed account, uint256 amount);

    constructor(
        IJobEscrow escrow_,
        IModelRegistry models_,
        IStepJudge judge_,
        IERC20 token_,
        uint128 challengerBond_,
        uint64 proverClock_,
        uint64 challengerClock_
    ) {
        if (challengerBond_ == 0 || proverClock_ == 0 || challengerClock_ == 0) revert InvalidParameters();
        escrow = escrow_;
        models = models_;
        judge = judge_;
        token = token_;
        challengerBond = challengerBond_;
        proverClock = proverClock_;
        challengerClock = challengerClock_;
    }

    // ---------------------------------------------------------------- views

    /// @notice Content-derived id, so a reorg that reorders openings never re-targets a move.
    function disputeIdOf(uint256 jobId, uint32 position, uint32 layer, address challenger)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(jobId, position, layer, challenger));
    }

    function getDispute(bytes32 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @notice The second after which the side to move loses (moves at exactly this second count).
    function deadlineOf(bytes32 disputeId) public view returns (uint256) {
        Dispute storage d = _disputes[disputeId];
        if (d.phase == Phase.AwaitingProof) return uint256(d.turnStartedAt) + d.challengerClockLeft;
        if (d.phase == Phase.AwaitingStepRoot || d.phase == Phase.AwaitingData) {
            return uint256(d.turnStartedAt) + d.proverClockLeft;
        }
        return 0;
    }

    // ---------------------------------------------------------------- moves

    /// @notice Challenge step (position, layer) of a committed job, posting `challengerBond`.
    /// layer 0 is the embedding step; layer l ≥ 1 is block l. Starts the prover's clock.
    function openDispute(uint256 jobId, uint32 position, uint32 layer)
        external
        nonReentrant
        returns (bytes32 disputeId)
    {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        if (job.status != IJobEscrow.JobStatus.Committed) revert JobNotCommitted(jobId, job.status);
        if (msg.sender == job.prover) revert ProverCannotChallenge(jobId);
        IModelRegistry.Model memory model = models.getModel(job.modelId);
        // Hidden states exist for positions 0..N-2 (PROTOCOL §3.4).
        uint256 n = uint256(job.inputTokens) + job.outputTokens;
        // Layers 0 (embedding) .. L (blocks) and L + 1 (head, next token t + 1).
        if (layer > uint256(model.arch.layers) + 1 || uint256(position) + 2 > n) {
            revert StepOutOfRange(jobId, position, layer);
        }
        disputeId = disputeIdOf(jobId, position, layer, msg.sender);
        Dispute storage d = _disputes[disputeId];
        if (d.phase != Phase.None) revert DisputeExists(disputeId);

        d.jobId = jobId;
        d.challenger = msg.sender;
        d.position = position;
        d.layer = layer;
        d.phase = Phase.AwaitingStepRoot;
        d.prover = job.prover;
        d.turnStartedAt = uint64(block.timestamp);
        d.proverClockLeft = proverClock;
        d.challengerClockLeft = challengerClock;
        d.bond = challengerBond;
        bondsHeld += challengerBond;
        emit DisputeOpened(disputeId, jobId, msg.sender, position, layer, challengerBond);

        // The escrow enforces the challenge deadline (t ≤ challengeDeadline) and freezes payout.
        escrow.onDisputeOpened(jobId);
        token.safeTransferFrom(msg.sender, address(this), challengerBond);
    }

    /// @notice The prover commits the step's intermediates (PROTOCOL §7.2). Starts the
    /// challenger's clock.
    function postStepRoot(bytes32 disputeId, bytes32 stepRoot) external nonReentrant {
        Dispute storage d = _live(disputeId, Phase.AwaitingStepRoot);
        if (msg.sender != d.prover) revert NotProver(disputeId, msg.sender);
        d.proverClockLeft = _spend(disputeId, d, d.proverClockLeft);
        d.stepRoot = stepRoot;
        d.phase = Phase.AwaitingProof;
        emit StepRootPosted(disputeId, stepRoot, d.proverClockLeft);
    }

    /// @notice Data availability: demand that the prover reveal one step chunk on-chain, on
    /// the prover's clock. At most MAX_DEMANDS per dispute.
    function demandChunk(bytes32 disputeId, uint256 tensor, uint256 row, uint256 chunk) external nonReentrant {
        Dispute storage d = _live(disputeId, Phase.AwaitingProof);
        if (msg.sender != d.challenger) revert NotChallenger(disputeId, msg.sender);
        if (d.demandsUsed >= MAX_DEMANDS) revert DemandLimitReached(disputeId, MAX_DEMANDS);
        // INVARIANT: only leaves an honest step root holds can be demanded, so an honest prover
        // can always answer.
        if (!_isStepLeaf(d, tensor, row, chunk)) revert NotAStepLeaf(disputeId, tensor, row, chunk);
        d.challengerClockLeft = _spend(disputeId, d, d.challengerClockLeft);
        d.demandsUsed += 1;
        (d.demandTensor, d.demandRow, d.demandChunk) = (tensor, row, chunk);
        d.phase = Phase.AwaitingData;
        emit ChunkDemanded(disputeId, tensor, row, chunk, d.demandsUsed);
    }

    /// @notice The prover answers the outstanding demand with the chunk and its proof
    /// against the step root; the bytes go to the log.
    function revealChunk(bytes32 disputeId, bytes calldata data, bytes32[] calldata proof) external nonReentrant {
        Dispute storage d = _live(disputeId, Phase.AwaitingData);
        if (msg.sender != d.prover) revert NotProver(disputeId, msg.sender);
        d.proverClockLeft = _spend(disputeId, d, d.proverClockLeft);
        CommitmentLeaf.verifyChunk(
            d.stepRoot, CommitmentLeaf.STEP_DOMAIN, d.demandTensor, d.demandRow, d.demandChunk, data, proof
        );
        d.phase = Phase.AwaitingProof;
        emit ChunkRevealed(disputeId, d.demandTensor, d.demandRow, d.demandChunk, data, proof);
    }

    /// @notice The one-step proof. Only the dispute's own challenger may submit it, so a
    /// front-runner copying it gains nothing here. Reverts (`NoFraud`) when the element is
    /// within tolerance: the challenger's clock keeps running and it may try another.
    function proveFraud(bytes32 disputeId, IStepJudge.Claim calldata claim, IStepJudge.Opening[] calldata openings)
        external
        nonReentrant
    {
        Dispute storage d = _live(disputeId, Phase.AwaitingProof);
        if (msg.sender != d.challenger) revert NotChallenger(disputeId, msg.sender);
        uint256 deadline = uint256(d.turnStartedAt) + d.challengerClockLeft;
        if (block.timestamp > deadline) revert ClockExpired(disputeId, deadline);

        IStepJudge.Context memory ctx = _judgeContext(d, claim.tensor);
        try judge.judge(ctx, claim, openings) returns (IStepJudge.Verdict memory v) {
            if (!v.fraud) revert NoFraud(disputeId, v.op, v.claimed, v.ref, v.bound);
            emit FraudProven(disputeId, claim.tensor, claim.row, claim.col, v.op, v.claimed, v.ref, v.bound);
        } catch (bytes memory reason) {
            // A malformed prover commitment (wrong length, non-finite value, bad token) is fraud;
            // anything else (bad proof, invalid claim) is the caller's error and bubbles up.
            if (reason.length < 4 || bytes4(reason) != IStepJudge.ProverCommitmentMalformed.selector) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
            emit MalformedCommitmentProven(disputeId, claim.tensor, claim.row, claim.col, reason);
        }
        _resolve(disputeId, d, true);
    }

    /// @notice Anyone may end a dispute whose side to move has let its clock run out:
    /// allowed from the second after the deadline (`block.timestamp > deadline`).
    function claimTimeout(bytes32 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        Phase phase = d.phase;
        if (phase != Phase.AwaitingStepRoot && phase != Phase.AwaitingProof && phase != Phase.AwaitingData) {
            revert WrongPhase(disputeId, phase);
        }
        uint256 deadline = deadlineOf(disputeId);
        if (block.timestamp <= deadline) revert ClockRunning(disputeId, deadline);
        bool proverTimedOut = phase != Phase.AwaitingProof;
        emit TimeoutClaimed(disputeId, proverTimedOut, deadline);
        _resolve(disputeId, d, proverTimedOut);
    }

    /// @notice Once another dispute has slashed the job, anyone may close this one: the
    /// challenger's bond is returned and nobody is at fault again.
    function cancelAfterSlash(bytes32 disputeId) external nonReentrant {
        Dispute storage d = _disputes[disputeId];
        Phase phase = d.phase;
        if (phase != Phase.AwaitingStepRoot && phase != Phase.AwaitingProof && phase != Phase.AwaitingData) {
            revert WrongPhase(disputeId, phase);
        }
        uint256 jobId = d.jobId;
        if (escrow.getJob(jobId).status != IJobEscrow.JobStatus.Slashed) revert JobNotSlashed(jobId);
        d.phase = Phase.Cancelled;
        _credit(d.challenger, d.bond);
        emit DisputeCancelled(disputeId, jobId);
        escrow.onDisputeResolved(jobId, false, d.challenger);
    }

    /// @notice Withdraw everything credited to the caller (bonds returned or won).
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- internals

    function _live(bytes32 disputeId, Phase expected) private view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.phase == Phase.None) revert UnknownDispute(disputeId);
        if (d.phase != expected) revert WrongPhase(disputeId, d.phase);
    }

    /// @dev Charge the mover for the time since its turn began and hand the turn over.
    /// INVARIANT: a move at block.timestamp == deadline is still in time.
    function _spend(bytes32 disputeId, Dispute storage d, uint64 clockLeft) private returns (uint64) {
        uint256 elapsed = block.timestamp - d.turnStartedAt;
        if (elapsed > clockLeft) revert ClockExpired(disputeId, uint256(d.turnStartedAt) + clockLeft);
        d.turnStartedAt = uint64(block.timestamp);
        // elapsed ≤ clockLeft, checked above.
        unchecked {
            return clockLeft - uint64(elapsed);
        }
    }

    function _resolve(bytes32 disputeId, Dispute storage d, bool proverAtFault) private {
        d.phase = proverAtFault ? Phase.ChallengerWon : Phase.ProverWon;
        address bondTo = proverAtFault ? d.challenger : d.prover;
        _credit(bondTo, d.bond);
        emit DisputeResolved(disputeId, d.jobId, proverAtFault, bondTo);
        escrow.onDisputeResolved(d.jobId, proverAtFault, d.challenger);
    }

    /// @dev Move a dispute's bond from `bondsHeld` to `account`'s credit.
    /// INVARIANT: token balance ≥ bondsHeld + totalCredits.
    function _credit(address account, uint128 amount) private {
        bondsHeld -= amount;
        credits[account] += amount;
        totalCredits += amount;
    }

    function _isStepLeaf(Dispute storage d, uint256 tensor, uint256 row, uint256 chunk) private view returns (bool) {
        IModelRegistry.Model memory model = models.getModel(escrow.getJob(d.jobId).modelId);
        IModelRegistry.Architecture memory a = model.arch;
        uint256 hd = uint256(a.hidden) / a.heads;
        StepLayout.Dims memory m = StepLayout.Dims({
            d: a.hidden,
            heads: a.heads,
            kvHeads: a.kvHeads,
            hd: hd,
            kv: uint256(a.kvHeads) * hd,
            f: a.ffn,
            T: uint256(d.position) + 1,
            C: model.encoding.chunkSize,
            vocab: a.vocab
        });
        return StepLayout.isLeaf(m, d.layer, a.layers, tensor, row, chunk);
    }

    function _judgeContext(Dispute storage d, uint256 tensor) private view returns (IStepJudge.Context memory c) {
        IJobEscrow.Job memory job = escrow.getJob(d.jobId);
        IModelRegistry.Model memory model = models.getModel(job.modelId);
        IModelRegistry.OpTolerance memory tol =
            models.tolerance(job.modelId, StepLayout.opOf(tensor, d.layer, model.arch.layers));
        c.traceRoot = job.traceRoot;
        c.promptRoot = job.promptRoot;
        c.outputRoot = job.outputRoot;
        c.weightsRoot = model.weightsRoot;
        c.stepRoot = d.stepRoot;
        c.position = d.position;
        c.layer = d.layer;
        c.layers = model.arch.layers;
        c.inputTokens = job.inputTokens;
        c.jobId = d.jobId;
        c.samplingParams = job.samplingParams;
        c.traceDtype = model.encoding.traceDtype;
        c.weightsDtype = model.encoding.weightsDtype;
        c.chunkSize = model.encoding.chunkSize;
        c.hidden = model.arch.hidden;
        c.heads = model.arch.heads;
        c.kvHeads = model.arch.kvHeads;
        c.ffn = model.arch.ffn;
        c.vocab = model.arch.vocab;
        c.normEpsBits = model.arch.normEpsBits;
        c.ropeTheta = model.arch.ropeTheta;
        c.atol = tol.atol;
        c.rtol = tol.rtol;
    }
}
