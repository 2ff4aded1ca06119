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
        AwaitingData, // prover's clock: the demanded chunks must be revealed
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
        uint8 roundsUsed;
        address prover;
        uint64 turnStartedAt;
        /// The dispute's sequence number on its job (JobEscrow.onDisputeOpened, PROTOCOL §9.5).
        uint32 seq;
        uint64 proverClockLeft;
        uint64 challengerClockLeft;
        uint128 bond;
        bytes32 stepRoot;
        // The outstanding data-availability demand (valid in AwaitingData): keccak256 of the
        // abi-encoded Leaf[] (the leaves themselves are in the ChunksDemanded log), how many
        // leaves it names, which of them are revealed (bit i = leaf i), and the fees escrowed
        // for the leaves not yet revealed.
        bytes32 demandHash;
        uint8 demandCount;
        uint16 revealedMask;
        uint128 feesPending;
    }

    /// @notice One demanded leaf: `src` 2 = step leaf (StepLayout.isLeaf), 0 = trace
    /// hidden-state leaf h[row][tensor] (StepLayout.isTraceLeaf).
    struct Leaf {
        uint8 src;
        uint256 tensor;
        uint256 row;
        uint256 chunk;
    }

    uint8 public constant SRC_TRACE = 0;
    uint8 public constant SRC_STEP = 2;
    /// Most leaves one demand may name (a 16-leaf reveal of binary32 chunks at C = 256 is
    /// ~16 KB of data plus ~15 KB of proofs at depth 29; it may be split over several
    /// `revealChunks` transactions, see there).
    uint8 public constant MAX_LEAVES_PER_DEMAND = 16;
    /// Most demand rounds per dispute: the deepest path of the §7.2 operation graph, counted in
    /// claims, each needing at most one round for the missing chunks of its opening plan:
    /// OUT_ROW → OUT_ERR_PART → Y_D → D_PART → A → G → G_PART → N2 → R2 → SS2_PART → X1 → Y_O →
    /// WO_PART → O → Z → Z_PART → E → S → S_PART → K → K_PRE → K_PART → N1 → R1 → SS1_PART (25
    /// claims from the row bound, 24 from a per-element OUT; U and Q branches are as long, V_T
    /// shorter). The head step's deepest path is ARGMAX → LOGIT → LOGIT_PART → N1 → R1 → SS1_PART
    /// (6). A claim's own chunk arrives with its parent's round, so the path needs 24 rounds when
    /// the challenger holds the trace and 25 when it must also demand the last claim's trace
    /// input. So a challenger can reach any tensor of either layout.
    uint8 public constant MAX_DEMAND_ROUNDS = 25;

    IJobEscrow public immutable escrow;
    IModelRegistry public immutable models;
    IStepJudge public immutable judge;
    IERC20 public immutable token;
    /// The bond's floor: what a dispute costs the prover in gas to answer (PROTOCOL §9.5).
    uint128 public immutable challengerBond;
    /// The bond's share of the job's escrow, in basis points: the bond grows with what the job
    /// is worth, so small jobs stay worth challenging and large ones are not cheap to grief.
    uint16 public immutable bondBps;
    uint64 public immutable proverClock;
    uint64 public immutable challengerClock;
    /// Fee per demanded leaf, escrowed from the challenger at demand and credited to the prover
    /// when revealed (it reimburses the reveal's gas, so demands cannot grief), back to the
    /// challenger if the prover does not reveal in time.
    uint128 public immutable demandFee;

    mapping(bytes32 disputeId => Dispute) private _disputes;
    mapping(address account => uint256) public credits;
    /// Sum of `credits`; with `bondsHeld` it is everything this contract owes.
    uint256 public totalCredits;
    /// Bonds of unresolved disputes.
    uint256 public bondsHeld;
    /// Demand fees escrowed for leaves not yet revealed (sum of `feesPending`).
    uint256 public feesHeld;

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
    error DemandSize(bytes32 disputeId, uint256 given, uint256 max);
    error NotATraceLeaf(bytes32 disputeId, uint256 tensor, uint256 row, uint256 chunk);
    error UnknownSource(bytes32 disputeId, uint256 index, uint8 src);
    error DemandMismatch(bytes32 disputeId, bytes32 given, bytes32 demanded);
    error RevealLengthMismatch(bytes32 disputeId, uint256 leaves, uint256 data, uint256 proofs);
    error AlreadyRevealed(bytes32 disputeId, uint256 index);
    error NothingRevealed(bytes32 disputeId);
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
    event ChunksDemanded(bytes32 indexed disputeId, Leaf[] leaves, uint8 round, uint128 feesEscrowed);
    /// Carries the revealed bytes and their proofs (entry i for leaf i; empty data = not
    /// revealed in this transaction), so anyone can use the chunks in a proof.
    event ChunksRevealed(
        bytes32 indexed disputeId,
        Leaf[] leaves,
        bytes[] data,
        bytes32[][] proofs,
        uint16 revealedMask,
        uint128 feesCredited
    );
    event DemandFeesRefunded(bytes32 indexed disputeId, address indexed challenger, uint128 amount);
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
        uint16 bondBps_,
        uint64 proverClock_,
        uint64 challengerClock_,
        uint128 demandFee_
    ) {
        if (challengerBond_ == 0 || bondBps_ > 10_000 || proverClock_ == 0 || challengerClock_ == 0) {
            revert InvalidParameters();
        }
        bondBps = bondBps_;
        escrow = escrow_;
        models = models_;
        judge = judge_;
        token = token_;
        challengerBond = challengerBond_;
        proverClock = proverClock_;
        challengerClock = challengerClock_;
        demandFee = demandFee_;
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

    /// @notice The bond a dispute on `jobId` takes: `challengerBond + escrowed · bondBps / 10⁴`.
    function bondFor(uint256 jobId) public view returns (uint128) {
        return _bondFor(escrow.getJob(jobId));
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

    /// @notice Challenge step (position, layer) of a committed job, posting `bondFor(jobId)`.
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
        uint128 bond = _bondFor(job);
        d.bond = bond;
        bondsHeld += bond;
        emit DisputeOpened(disputeId, jobId, msg.sender, position, layer, bond);

        // The escrow enforces the challenge deadline (t ≤ challengeDeadline) and the auditor's
        // priority (PROTOCOL §9.1), freezes payout, and numbers the dispute (§9.5).
        d.seq = escrow.onDisputeOpened(jobId, msg.sender);
        token.safeTransferFrom(msg.sender, address(this), bond);
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

    /// @notice Data availability: demand that the prover reveal up to MAX_LEAVES_PER_DEMAND
    /// leaves on-chain, on the prover's clock: step leaves (src 2) and trace hidden-state leaves
    /// the step's claims may open (src 0), so withholding neither wins. At most
    /// MAX_DEMAND_ROUNDS per dispute; `demandFee` per leaf is escrowed from the caller.
    function demandChunks(bytes32 disputeId, Leaf[] calldata leaves) external nonReentrant {
        Dispute storage d = _live(disputeId, Phase.AwaitingProof);
        if (msg.sender != d.challenger) revert NotChallenger(disputeId, msg.sender);
        if (d.roundsUsed >= MAX_DEMAND_ROUNDS) revert DemandLimitReached(disputeId, MAX_DEMAND_ROUNDS);
        uint256 n = leaves.length;
        if (n == 0 || n > MAX_LEAVES_PER_DEMAND) revert DemandSize(disputeId, n, MAX_LEAVES_PER_DEMAND);
        (StepLayout.Dims memory m, uint256 layers) = _dims(d);
        for (uint256 i = 0; i < n; ++i) {
            Leaf calldata lf = leaves[i];
            // INVARIANT: only leaves an honest step root or an honest trace holds can be
            // demanded, so an honest prover can always answer.
            if (lf.src == SRC_STEP) {
                if (!StepLayout.isLeaf(m, d.layer, layers, lf.tensor, lf.row, lf.chunk)) {
                    revert NotAStepLeaf(disputeId, lf.tensor, lf.row, lf.chunk);
                }
            } else if (lf.src == SRC_TRACE) {
                if (!StepLayout.isTraceLeaf(m, d.layer, layers, lf.tensor, lf.row, lf.chunk)) {
                    revert NotATraceLeaf(disputeId, lf.tensor, lf.row, lf.chunk);
                }
            } else {
                revert UnknownSource(disputeId, i, lf.src);
            }
        }
        d.challengerClockLeft = _spend(disputeId, d, d.challengerClockLeft);
        // Checked: a fee so large that 16 of them overflow uint128 reverts here.
        uint128 fees = demandFee * uint128(n);
        d.roundsUsed += 1;
        d.demandHash = keccak256(abi.encode(leaves));
        d.demandCount = uint8(n);
        d.revealedMask = 0;
        d.feesPending = fees;
        feesHeld += fees;
        d.phase = Phase.AwaitingData;
        emit ChunksDemanded(disputeId, leaves, d.roundsUsed, fees);
        if (fees != 0) token.safeTransferFrom(msg.sender, address(this), fees);
    }

    /// @notice The prover answers the outstanding demand: `leaves` must be exactly the demanded
    /// list; `data[i]`/`proofs[i]` reveal leaf i against the step root (src 2) or the job's
    /// trace root (src 0), and an empty `data[i]` leaves it for a later transaction (a full
    /// 16-leaf answer can exceed 32 KB of calldata). Each revealed leaf credits `demandFee` to
    /// the prover; once all are revealed the turn passes to the challenger. The bytes go to the log.
    function revealChunks(
        bytes32 disputeId,
        Leaf[] calldata leaves,
        bytes[] calldata data,
        bytes32[][] calldata proofs
    ) external nonReentrant {
        Dispute storage d = _live(disputeId, Phase.AwaitingData);
        if (msg.sender != d.prover) revert NotProver(disputeId, msg.sender);
        bytes32 h = keccak256(abi.encode(leaves));
        if (h != d.demandHash) revert DemandMismatch(disputeId, h, d.demandHash);
        uint256 n = leaves.length;
        if (data.length != n || proofs.length != n) {
            revert RevealLengthMismatch(disputeId, n, data.length, proofs.length);
        }
        uint256 deadline = uint256(d.turnStartedAt) + d.proverClockLeft;
        if (block.timestamp > deadline) revert ClockExpired(disputeId, deadline);
        (uint16 mask, uint256 count) = _verifyReveal(disputeId, d, leaves, data, proofs);
        if (count == 0) revert NothingRevealed(disputeId);
        // count ≤ demandCount, so the credit never exceeds feesPending.
        uint128 credited = demandFee * uint128(count);
        d.revealedMask = mask;
        d.feesPending -= credited;
        feesHeld -= credited;
        _creditFee(d.prover, credited);
        // All revealed: the challenger's turn. Otherwise the prover's clock keeps running.
        if (mask == uint16((uint256(1) << n) - 1)) {
            d.proverClockLeft = _spend(disputeId, d, d.proverClockLeft);
            d.phase = Phase.AwaitingProof;
        }
        emit ChunksRevealed(disputeId, leaves, data, proofs, mask, credited);
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
        _refundFees(disputeId, d);
        emit DisputeCancelled(disputeId, jobId);
        escrow.onDisputeResolved(jobId, d.seq, false, d.challenger);
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
        // Fees of leaves a timed-out prover never revealed go back to the challenger.
        _refundFees(disputeId, d);
        emit DisputeResolved(disputeId, d.jobId, proverAtFault, bondTo);
        escrow.onDisputeResolved(d.jobId, d.seq, proverAtFault, d.challenger);
    }

    function _bondFor(IJobEscrow.Job memory job) private view returns (uint128) {
        // escrowed < 2^128 and bondBps ≤ 10⁴: the product fits; the sum is checked.
        return challengerBond + uint128(uint256(job.escrowed) * bondBps / 10_000);
    }

    /// @dev Move a dispute's bond from `bondsHeld` to `account`'s credit.
    /// INVARIANT: token balance ≥ bondsHeld + feesHeld + totalCredits.
    function _credit(address account, uint128 amount) private {
        bondsHeld -= amount;
        credits[account] += amount;
        totalCredits += amount;
    }

    /// @dev Credit demand fees already removed from `feesHeld`.
    function _creditFee(address account, uint128 amount) private {
        credits[account] += amount;
        totalCredits += amount;
    }

    /// @dev Return a dispute's escrowed, unrevealed demand fees to its challenger.
    function _refundFees(bytes32 disputeId, Dispute storage d) private {
        uint128 fees = d.feesPending;
        if (fees == 0) return;
        d.feesPending = 0;
        feesHeld -= fees;
        _creditFee(d.challenger, fees);
        emit DemandFeesRefunded(disputeId, d.challenger, fees);
    }

    /// @dev Verify the non-empty entries of a reveal; returns the new revealed mask and how many
    /// leaves this call revealed.
    function _verifyReveal(
        bytes32 disputeId,
        Dispute storage d,
        Leaf[] calldata leaves,
        bytes[] calldata data,
        bytes32[][] calldata proofs
    ) private view returns (uint16 mask, uint256 count) {
        mask = d.revealedMask;
        bytes32 traceRoot;
        for (uint256 i = 0; i < leaves.length; ++i) {
            if (data[i].length == 0) continue;
            // i < n ≤ 16: the bit fits in uint16.
            uint16 bit = uint16(1 << i);
            if (mask & bit != 0) revert AlreadyRevealed(disputeId, i);
            // demandChunks admitted only src 0 or 2.
            if (leaves[i].src != SRC_STEP && traceRoot == bytes32(0)) traceRoot = escrow.getJob(d.jobId).traceRoot;
            _verifyLeaf(d.stepRoot, traceRoot, leaves[i], data[i], proofs[i]);
            mask |= bit;
            ++count;
        }
    }

    function _verifyLeaf(bytes32 stepRoot, bytes32 traceRoot, Leaf calldata lf, bytes calldata data, bytes32[] calldata proof)
        private
        pure
    {
        if (lf.src == SRC_STEP) {
            CommitmentLeaf.verifyChunk(stepRoot, CommitmentLeaf.STEP_DOMAIN, lf.tensor, lf.row, lf.chunk, data, proof);
        } else {
            CommitmentLeaf.verifyChunk(traceRoot, CommitmentLeaf.TRACE_DOMAIN, lf.tensor, lf.row, lf.chunk, data, proof);
        }
    }

    /// @dev The step's dimensions and the model's block count.
    function _dims(Dispute storage d) private view returns (StepLayout.Dims memory m, uint256 layers) {
        IJobEscrow.Job memory job = escrow.getJob(d.jobId);
        IModelRegistry.Model memory model = models.getModel(job.modelId);
        IModelRegistry.Architecture memory a = model.arch;
        uint256 hd = uint256(a.hidden) / a.heads;
        m = StepLayout.Dims({
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
        layers = a.layers;
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
