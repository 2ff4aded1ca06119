// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IAuditManager} from "../interfaces/IAuditManager.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {CommitmentLeaf} from "../libraries/CommitmentLeaf.sol";
import {AuditParams} from "./AuditParams.sol";
import {AuditPools} from "./AuditPools.sol";

/// @title Protocol-assigned audits (docs/PROTOCOL.md §9)
/// @notice Every committed job is drawn for audit with the seed `keccak256(blockhash(commit
/// block), jobId)`, which the prover could not know when it committed. An audited job gets one
/// auditor from the model's verifier pool and a set of boundaries to re-execute (plus the head
/// step). Until its deadline only the auditor may challenge the job; it either opens a dispute
/// or reports agreement with a probe leaf of the trace (which shows it obtained the trace) and
/// is paid from the audit pool after a vesting delay. A canary — a job of a prover the canary
/// role committed to before the result was committed, corrupted on purpose — exposes an auditor
/// that approved it: its bond and stake are slashed and it is ejected. Auditors that leave assignments unanswered are
/// ejected after `maxMisses` in a row and forfeit their unclaimed pay.
/// @dev This contract holds no tokens: audit pay lives in the escrow's audit pool, bonds in the
/// NodeRegistry. Slashed auditor stake is passed on to the treasury in the same transaction.
contract AuditManager is IAuditManager, AuditParams, AuditPools, ReentrancyGuard {
    /// @notice Commits to corrupted canary jobs in advance and exposes them.
    bytes32 public constant CANARY_ROLE = keccak256("CANARY_ROLE");
    /// @notice Expected loss of cheating ≥ DETERRENCE × its gain at the exposure limit (§9.4).
    uint256 public constant DETERRENCE = 10;

    enum AuditState {
        None, // no result committed
        Pending, // committed; the draw is not fixed yet
        Unaudited, // drawn: not audited
        NoAuditor, // drawn for audit, but no pool member was eligible
        Lapsed, // nobody fixed the draw while its seed block's hash was available
        Assigned, // the auditor must report or dispute by the deadline
        Agreed, // the auditor reported agreement; pay vests at vestsAt
        Disputed, // the auditor opened a step dispute
        Missed, // the deadline passed unanswered
        Paid // the auditor claimed the pay
    }

    struct Audit {
        uint48 seedBlock;
        /// Last second to report or dispute: min(commit + auditPeriod, challengeDeadline), later
        /// extended by the auditor's answered availability challenges (onAvailabilityResolved).
        uint40 deadline;
        /// The deadline as first set: only challenges opened by then can extend it, which bounds
        /// the extension to one answer window plus one audit period.
        uint40 firstDeadline;
        /// The auditor's availability challenges opened by the first deadline and not answered
        /// yet: while any is pending its priority holds and nothing counts as missed.
        uint16 pendingChallenges;
        /// The audit rate of the job's model when it was committed.
        uint16 rateBps;
        AuditState state;
        /// A canary exposed by the canary role (set once).
        bool canary;
        address auditor;
        uint40 vestsAt;
        uint128 pay;
        bytes32 seed;
    }

    /// @notice What an auditor must re-execute and which leaf proves it fetched the trace.
    struct Assignment {
        AuditState state;
        address auditor;
        uint64 deadline;
        /// Block boundaries of 0..L to re-execute over all positions, ascending.
        uint32[] boundaries;
        /// Always re-derive the output tokens from h[·][L] (the head step, §8).
        bool head;
        /// The probe leaf h[probeRow][probeBoundary], chunk probeChunk, of the trace.
        uint32 probeBoundary;
        uint32 probeRow;
        uint32 probeChunk;
    }

    struct Auditor {
        uint128 bond;
        uint40 releaseAfter;
        uint8 misses;
        /// Block of ejection (0: never ejected); an ejected verifier cannot rejoin.
        uint48 ejectedBlock;
        /// Pay reported and neither claimed nor forfeited.
        uint128 unclaimed;
    }

    IJobEscrow public immutable escrow;
    INodeRegistry public immutable nodes;
    IModelRegistry public immutable models;

    mapping(uint256 jobId => Audit) internal _audits;
    mapping(address verifier => Auditor) internal _auditors;
    /// @notice Block at which the canary role committed to `keccak256(abi.encode(prover, salt))`.
    mapping(bytes32 commitment => uint48) public canaryCommittedAt;
    /// @notice Pay promised to auditors and not yet claimed or forfeited (≤ the escrow's pool).
    uint256 public reserved;
    /// Jobs on which the assigned auditor opened an availability challenge (§9.1). If the job
    /// ends Slashed the auditor can neither report nor open a step dispute any more.
    mapping(uint256 jobId => bool) internal _auditorChallenged;
    /// The assigned auditor's availability challenges opened by the first deadline, by job and
    /// dispute sequence number: answering one extends the auditor's deadline.
    mapping(uint256 jobId => mapping(uint32 seq => bool)) internal _earlyChallenge;

    error NotEscrow(address caller);
    error ModelUnknown(bytes32 modelId);
    error NoAuditors(bytes32 modelId);
    error Ejected(address verifier);
    error BondLocked(address verifier, uint40 releaseAfter);
    error NothingToRelease(address verifier);
    error BondTooSmall(uint256 bond, uint256 minBond);
    error DrawNotReady(uint256 jobId, uint256 seedBlock);
    error AuditorPriority(uint256 jobId, address auditor, uint64 deadline);
    error WrongAuditState(uint256 jobId, AuditState state);
    error NotAuditor(uint256 jobId, address caller);
    error AuditDeadlinePassed(uint256 jobId, uint64 deadline);
    error AuditDeadlineNotPassed(uint256 jobId, uint64 deadline);
    error JobNotCommitted(uint256 jobId);
    error NotVested(uint256 jobId, uint40 vestsAt);
    error CanaryAlreadyCommitted(bytes32 commitment);
    error NotACanary(uint256 jobId);
    error CanaryAlreadyExposed(uint256 jobId);

    event AuditDrawn(uint256 indexed jobId, AuditState state, address indexed auditor, uint64 deadline);
    event AuditDisputed(uint256 indexed jobId, address indexed auditor);
    event AuditReported(uint256 indexed jobId, address indexed auditor, uint256 pay, uint40 vestsAt);
    event AuditMissed(uint256 indexed jobId, address indexed auditor, uint8 misses);
    event AuditPayClaimed(address indexed auditor, uint256 amount);
    event AuditorEjected(address indexed verifier, uint256 forfeited, bool slashed);
    event BondReleased(address indexed verifier, uint256 amount);
    event BondIncreased(address indexed verifier, uint256 amount, uint256 bond);
    event CanaryCommitted(bytes32 indexed commitment);
    event AuditDeadlineExtended(uint256 indexed jobId, address indexed auditor, uint64 deadline);
    event CanaryExposed(uint256 indexed jobId, address indexed auditor, bool auditorSlashed, uint256 slashed);

    modifier onlyEscrow() {
        if (msg.sender != address(escrow)) revert NotEscrow(msg.sender);
        _;
    }

    constructor(address admin, IJobEscrow escrow_, INodeRegistry nodes_, IModelRegistry models_, Params memory params_)
        AuditParams(admin, params_)
    {
        escrow = escrow_;
        nodes = nodes_;
        models = models_;
    }

    // ---------------------------------------------------------------- pools

    /// @notice Join `modelId`'s verifier pool. The first join locks `minBond` of the caller's
    /// verifier stake as its audit bond (raise it with `increaseBond`: a full pool admits a
    /// verifier whose bond beats its smallest member's).
    function joinPool(bytes32 modelId) external nonReentrant {
        if (!models.isRegistered(modelId)) revert ModelUnknown(modelId);
        Auditor storage a = _auditors[msg.sender];
        if (a.ejectedBlock != 0) revert Ejected(msg.sender);
        if (a.bond == 0) {
            uint128 bond = _params.minBond;
            a.bond = bond;
            // Reverts unless the caller is a registered verifier with that much free stake.
            nodes.lockBond(msg.sender, bond);
        }
        _join(modelId, msg.sender);
    }

    /// @notice Lock `amount` more of the caller's free stake into its audit bond (a first bond
    /// must be at least `minBond`), e.g. to join a full pool.
    function increaseBond(uint128 amount) external nonReentrant {
        Auditor storage a = _auditors[msg.sender];
        if (a.ejectedBlock != 0) revert Ejected(msg.sender);
        if (a.bond + amount < _params.minBond) revert BondTooSmall(a.bond + amount, _params.minBond);
        a.bond += amount;
        nodes.lockBond(msg.sender, amount);
        emit BondIncreased(msg.sender, amount, a.bond);
    }

    /// @notice Leave `modelId`'s pool. After the last pool the bond unlocks `leaveDelay` later.
    function leavePool(bytes32 modelId) external {
        if (_leave(modelId, msg.sender) == 0) _afterLeftAll(msg.sender);
    }

    /// @notice Unlock the audit bond once out of every pool for `leaveDelay`.
    function releaseBond() external nonReentrant {
        Auditor storage a = _auditors[msg.sender];
        uint128 bond = a.bond;
        if (bond == 0 || _modelsOf[msg.sender].length != 0) revert NothingToRelease(msg.sender);
        if (block.timestamp < a.releaseAfter) revert BondLocked(msg.sender, a.releaseAfter);
        a.bond = 0;
        nodes.unlockCollateral(msg.sender, bond);
        emit BondReleased(msg.sender, bond);
    }

    // ---------------------------------------------------------------- escrow hooks

    /// @inheritdoc IAuditManager
    function onResultCommitted(uint256 jobId, bytes32 modelId, uint64 challengeDeadline) external onlyEscrow {
        uint256 deadline = block.timestamp + _params.auditPeriod;
        if (deadline > challengeDeadline) deadline = challengeDeadline;
        Audit storage a = _audits[jobId];
        a.seedBlock = uint48(block.number);
        a.deadline = uint40(deadline);
        a.firstDeadline = uint40(deadline);
        a.rateBps = auditRateOf(modelId);
        a.state = AuditState.Pending;
    }

    /// @inheritdoc IAuditManager
    function onDisputeOpened(uint256 jobId, address challenger, bool stepDispute, uint32 seq) external onlyEscrow {
        Audit storage a = _audits[jobId];
        // Nobody may challenge before the draw is known: otherwise a prover's sybil could open the
        // earliest dispute in the commit block itself.
        if (a.state == AuditState.Pending && block.number <= a.seedBlock) revert DrawNotReady(jobId, a.seedBlock);
        AuditState state = _fix(jobId, a, escrow.getJob(jobId));
        if (state != AuditState.Assigned) return;
        if (challenger == a.auditor) {
            // An availability challenge keeps the assignment open (the auditor still reports,
            // from the leaves the prover must now publish) and excuses a miss.
            if (stepDispute) {
                a.state = AuditState.Disputed;
                _auditors[challenger].misses = 0;
                emit AuditDisputed(jobId, challenger);
            } else {
                _auditorChallenged[jobId] = true;
                if (block.timestamp <= a.firstDeadline) {
                    _earlyChallenge[jobId][seq] = true;
                    ++a.pendingChallenges;
                }
            }
        } else if ((block.timestamp <= a.deadline || a.pendingChallenges != 0) && _auditors[a.auditor].ejectedBlock == 0) {
            // Until its deadline, and while the prover has not answered the rows it forced: a
            // prover that answers after the deadline must not let its sybil dispute first.
            // An ejected auditor's assignments no longer hold anyone back.
            revert AuditorPriority(jobId, a.auditor, a.deadline);
        }
    }

    /// @inheritdoc IAuditManager
    /// @dev Without this a prover that withholds from its auditor answers the forced rows at the
    /// last second, after the auditor's priority or the challenge window has ended, and either
    /// nobody can dispute what they show or its sybil disputes first (adversary suite,
    /// withhold-from-auditor and withhold-then-sybil-first).
    function onAvailabilityResolved(uint256 jobId, uint32 seq, bool answered) external onlyEscrow returns (uint64) {
        if (!_earlyChallenge[jobId][seq]) return 0;
        delete _earlyChallenge[jobId][seq];
        Audit storage a = _audits[jobId];
        --a.pendingChallenges;
        if (!answered || a.state != AuditState.Assigned) return 0;
        uint256 until = block.timestamp + _params.auditPeriod;
        if (until > a.deadline) {
            a.deadline = uint40(until);
            emit AuditDeadlineExtended(jobId, a.auditor, uint64(until));
        }
        return a.deadline;
    }

    /// @inheritdoc IAuditManager
    function onJobFinalized(uint256 jobId) external onlyEscrow {
        Audit storage a = _audits[jobId];
        if (a.state == AuditState.Pending && block.number > a.seedBlock) _fix(jobId, a, escrow.getJob(jobId));
        // Finalization is after the challenge deadline, so past the audit deadline too.
        if (a.state == AuditState.Assigned) _miss(jobId, a);
    }

    // ---------------------------------------------------------------- auditors

    /// @notice Fix a committed job's draw while its seed is available (anyone). Auditors call it
    /// at once; a draw nobody fixes within 256 blocks lapses.
    function fixDraw(uint256 jobId) external returns (AuditState) {
        Audit storage a = _audits[jobId];
        if (a.state == AuditState.Pending && block.number <= a.seedBlock) revert DrawNotReady(jobId, a.seedBlock);
        return _fix(jobId, a, escrow.getJob(jobId));
    }

    /// @notice The assigned auditor agrees with the job's trace at its boundaries and head step,
    /// and shows it obtained the trace with the probe leaf (chunk bytes and proof against the
    /// trace root). Its pay, `cost · auditFee / auditRate` capped by the unreserved pool, vests
    /// after `vestDelay`.
    function reportAudit(uint256 jobId, bytes calldata chunk, bytes32[] calldata proof) external nonReentrant {
        Audit storage a = _audits[jobId];
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        if (a.state == AuditState.Pending && block.number <= a.seedBlock) revert DrawNotReady(jobId, a.seedBlock);
        AuditState state = _fix(jobId, a, job);
        if (state != AuditState.Assigned) revert WrongAuditState(jobId, state);
        if (msg.sender != a.auditor) revert NotAuditor(jobId, msg.sender);
        if (block.timestamp > a.deadline) revert AuditDeadlinePassed(jobId, a.deadline);
        // An ejected auditor's reports would reserve pay it can never claim (found by the
        // economics simulation): its remaining assignments are void.
        if (_auditors[msg.sender].ejectedBlock != 0) revert Ejected(msg.sender);
        // Agreement with a trace already proven wrong is worth nothing.
        if (job.status != IJobEscrow.JobStatus.Committed) revert JobNotCommitted(jobId);
        _verifyProbe(a.seed, job, chunk, proof);
        uint256 pay = _reservePay(a, job);
        Auditor storage au = _auditors[msg.sender];
        au.unclaimed += uint128(pay);
        au.misses = 0;
        emit AuditReported(jobId, msg.sender, pay, a.vestsAt);
    }

    /// @notice Claim the vested pay of the caller's agreed audits.
    function claimAuditPay(uint256[] calldata jobIds) external nonReentrant returns (uint256 total) {
        Auditor storage au = _auditors[msg.sender];
        if (au.ejectedBlock != 0) revert Ejected(msg.sender);
        for (uint256 i; i < jobIds.length; ++i) {
            Audit storage a = _audits[jobIds[i]];
            if (a.auditor != msg.sender) revert NotAuditor(jobIds[i], msg.sender);
            if (a.state != AuditState.Agreed) revert WrongAuditState(jobIds[i], a.state);
            if (block.timestamp < a.vestsAt) revert NotVested(jobIds[i], a.vestsAt);
            a.state = AuditState.Paid;
            total += a.pay;
        }
        reserved -= total;
        au.unclaimed -= uint128(total);
        emit AuditPayClaimed(msg.sender, total);
        if (total != 0) escrow.payFromAuditPool(msg.sender, total);
    }

    /// @notice Record an assignment left unanswered past its deadline (anyone; settlement does it
    /// too). `maxMisses` in a row eject the auditor.
    function recordMiss(uint256 jobId) external {
        Audit storage a = _audits[jobId];
        if (a.state == AuditState.Pending && block.number > a.seedBlock) _fix(jobId, a, escrow.getJob(jobId));
        if (a.state != AuditState.Assigned) revert WrongAuditState(jobId, a.state);
        if (block.timestamp <= a.deadline || a.pendingChallenges != 0) revert AuditDeadlineNotPassed(jobId, a.deadline);
        _miss(jobId, a);
    }

    // ---------------------------------------------------------------- canaries

    /// @notice Commit to a canary prover before its canary jobs are committed:
    /// `commitment = keccak256(abi.encode(prover, salt))`. Bound to a prover, not a job, so it
    /// can be made long in advance (its timing says nothing about which jobs are canaries).
    function commitCanary(bytes32 commitment) external onlyRole(CANARY_ROLE) {
        if (canaryCommittedAt[commitment] != 0) revert CanaryAlreadyCommitted(commitment);
        canaryCommittedAt[commitment] = uint48(block.number);
        emit CanaryCommitted(commitment);
    }

    /// @notice The canary prover reveals one of its jobs as a canary. If its auditor reported
    /// agreement and the pay has not vested, the auditor approved a trace it cannot have checked:
    /// its bond and `lazySlashBps` of its remaining stake go to the treasury and it is ejected.
    /// @dev Only the job's own prover may expose it, with the salt of a commitment to that prover
    /// made before the job's result: the canary role alone cannot turn a normal prover's job into
    /// a canary (and so cannot trap the honest auditors of other provers' honest jobs).
    function exposeCanary(uint256 jobId, bytes32 salt) external nonReentrant {
        Audit storage a = _audits[jobId];
        if (msg.sender != escrow.getJob(jobId).prover) revert NotACanary(jobId);
        uint48 committedAt = canaryCommittedAt[keccak256(abi.encode(msg.sender, salt))];
        // INVARIANT: a canary was committed before the result, so it cannot be chosen after
        // seeing who audits it or what they reported.
        if (committedAt == 0 || a.state == AuditState.None || committedAt >= a.seedBlock) revert NotACanary(jobId);
        if (a.canary) revert CanaryAlreadyExposed(jobId);
        a.canary = true;
        address auditor = a.auditor;
        bool lazy = a.state == AuditState.Agreed && block.timestamp < a.vestsAt;
        uint256 slashed;
        if (lazy) {
            Auditor storage au = _auditors[auditor];
            uint128 bond = au.bond;
            au.bond = 0;
            slashed = nodes.slashStake(auditor, bond, _params.lazySlashBps, 0);
            nodes.transferCredits(nodes.treasury(), slashed);
            _eject(auditor, au, true);
        }
        emit CanaryExposed(jobId, auditor, lazy, slashed);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAuditManager
    function exposureLimit(bytes32 modelId, uint256 freeStake) external view returns (uint256) {
        if (activeMembers[modelId] == 0) revert NoAuditors(modelId);
        (uint256 num, uint256 den) = detectionProbability(modelId);
        // p · slashShare · freeStake / DETERRENCE, with p = num / den.
        return freeStake * num * _params.slashShareBps / (den * BPS * DETERRENCE);
    }

    /// @notice The protocol's probability of catching one corrupted step of a job of `modelId`:
    /// `auditRate · min(k, L+1) / (L+1)` (a chosen output is caught with `auditRate`, §9.1).
    function detectionProbability(bytes32 modelId) public view returns (uint256 num, uint256 den) {
        uint256 l1 = uint256(models.getModel(modelId).arch.layers) + 1;
        uint256 k = _params.boundaries < l1 ? _params.boundaries : l1;
        return (uint256(auditRateOf(modelId)) * k, BPS * l1);
    }

    /// @inheritdoc IAuditManager
    function fraudPenalty() external view returns (uint16 slashShareBps, uint32 jailPeriod) {
        return (_params.slashShareBps, _params.jailPeriod);
    }

    /// @inheritdoc IAuditManager
    function auditFeeBps() external view returns (uint16) {
        return _params.auditFeeBps;
    }

    function getAudit(uint256 jobId) external view returns (Audit memory) {
        return _audits[jobId];
    }

    function getAuditor(address verifier) external view returns (Auditor memory) {
        return _auditors[verifier];
    }

    /// @notice The job's assignment as it stands, or as the draw will fix it when the seed is
    /// known and unfixed (what an auditor's node reads each block).
    function assignment(uint256 jobId) external view returns (Assignment memory s) {
        Audit memory a = _audits[jobId];
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        s.state = a.state;
        s.auditor = a.auditor;
        s.deadline = a.deadline;
        bytes32 seed = a.seed;
        if (a.state == AuditState.Pending) {
            bytes32 h = block.number > a.seedBlock ? blockhash(a.seedBlock) : bytes32(0);
            if (h == bytes32(0)) return s;
            seed = _seedOf(h, jobId);
            if (!_audited(seed, a.rateBps)) {
                s.state = AuditState.Unaudited;
                return s;
            }
            s.auditor = _pick(job.modelId, seed, a.seedBlock, job.prover);
            s.state = s.auditor == address(0) ? AuditState.NoAuditor : AuditState.Assigned;
        }
        if (s.auditor == address(0)) return s;
        s.boundaries = _boundaries(seed, job);
        s.head = true;
        (s.probeBoundary, s.probeRow, s.probeChunk) = _probe(seed, job, s.boundaries);
    }

    // ---------------------------------------------------------------- internals

    function _bondOf(address verifier) internal view override returns (uint256) {
        return _auditors[verifier].bond;
    }

    function _afterLeftAll(address verifier) internal override {
        _auditors[verifier].releaseAfter = uint40(block.timestamp + _params.leaveDelay);
    }

    function _seedOf(bytes32 blockHash, uint256 jobId) private pure returns (bytes32) {
        return keccak256(abi.encode(blockHash, jobId));
    }

    function _audited(bytes32 seed, uint16 rateBps) private pure returns (bool) {
        return uint256(seed) % BPS < rateBps;
    }

    /// @dev Fix the draw of a Pending job whose seed block is past; other states are returned as
    /// they are. Callers ensure block.number > seedBlock for Pending jobs.
    function _fix(uint256 jobId, Audit storage a, IJobEscrow.Job memory job) private returns (AuditState) {
        if (a.state != AuditState.Pending) return a.state;
        bytes32 h = blockhash(a.seedBlock);
        AuditState state;
        if (h == bytes32(0)) {
            state = AuditState.Lapsed;
        } else {
            bytes32 seed = _seedOf(h, jobId);
            a.seed = seed;
            if (!_audited(seed, a.rateBps)) {
                state = AuditState.Unaudited;
            } else {
                address auditor = _pick(job.modelId, seed, a.seedBlock, job.prover);
                a.auditor = auditor;
                state = auditor == address(0) ? AuditState.NoAuditor : AuditState.Assigned;
            }
        }
        a.state = state;
        emit AuditDrawn(jobId, state, a.auditor, a.deadline);
        return state;
    }

    /// @dev `boundaries` distinct block boundaries of 0..L by a Fisher–Yates shuffle keyed by the
    /// seed, ascending.
    function _boundaries(bytes32 seed, IJobEscrow.Job memory job) private view returns (uint32[] memory out) {
        uint256 l1 = uint256(models.getModel(job.modelId).arch.layers) + 1;
        uint256 k = _params.boundaries < l1 ? _params.boundaries : l1;
        uint32[] memory all = new uint32[](l1);
        for (uint256 i; i < l1; ++i) all[i] = uint32(i);
        for (uint256 i; i < k; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, "boundary", i))) % (l1 - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        out = new uint32[](k);
        for (uint256 i; i < k; ++i) out[i] = all[i];
        // Insertion sort: k is small.
        for (uint256 i = 1; i < k; ++i) {
            uint32 v = out[i];
            uint256 j = i;
            for (; j > 0 && out[j - 1] > v; --j) out[j] = out[j - 1];
            out[j] = v;
        }
    }

    /// @dev The probe leaf: one of the audited boundaries, a position 0..N−2 and a chunk, all from
    /// the seed (an honest trace holds every such leaf, PROTOCOL §3.4).
    function _probe(bytes32 seed, IJobEscrow.Job memory job, uint32[] memory boundaries)
        private
        view
        returns (uint32 boundary, uint32 row, uint32 chunk)
    {
        IModelRegistry.Model memory model = models.getModel(job.modelId);
        uint256 r = uint256(keccak256(abi.encode(seed, "probe")));
        uint256 rows = uint256(job.inputTokens) + job.outputTokens - 1;
        uint256 chunks = (uint256(model.arch.hidden) + model.encoding.chunkSize - 1) / model.encoding.chunkSize;
        boundary = boundaries[r % boundaries.length];
        row = uint32((r >> 64) % rows);
        chunk = uint32((r >> 128) % chunks);
    }

    /// @dev The probe leaf must be in the job's trace: the auditor obtained the trace.
    function _verifyProbe(bytes32 seed, IJobEscrow.Job memory job, bytes calldata chunk, bytes32[] calldata proof)
        private
        view
    {
        (uint32 boundary, uint32 row, uint32 chunkIndex) = _probe(seed, job, _boundaries(seed, job));
        CommitmentLeaf.verifyChunk(job.traceRoot, CommitmentLeaf.TRACE_DOMAIN, boundary, row, chunkIndex, chunk, proof);
    }

    /// @dev Agreed: `cost · auditFee / auditRate` (what the pool receives per audit on average),
    /// capped by what the pool holds beyond pay already promised, vesting after vestDelay.
    function _reservePay(Audit storage a, IJobEscrow.Job memory job) private returns (uint256 pay) {
        uint256 cost = uint256(job.inputTokens) * job.inputPrice + uint256(job.outputTokens) * job.outputPrice;
        pay = cost * job.auditFeeBps / a.rateBps;
        uint256 pool = escrow.auditPool();
        uint256 available = pool > reserved ? pool - reserved : 0;
        if (pay > available) pay = available;
        a.state = AuditState.Agreed;
        // pay <= pool, and the pool holds tokens: it fits in uint128.
        a.pay = uint128(pay);
        a.vestsAt = uint40(block.timestamp + _params.vestDelay);
        reserved += pay;
    }

    /// @dev An assignment left unanswered. If the auditor forced the trace on-chain, the prover
    /// did not serve it: when that slashed the job the assignment ended in a dispute (the auditor
    /// can neither report nor dispute a slashed job), otherwise it is excused — no pay, no strike
    /// — or a prover that withholds from its auditors could eject honest ones (§9.2).
    function _miss(uint256 jobId, Audit storage a) private {
        address auditor = a.auditor;
        Auditor storage au = _auditors[auditor];
        if (_auditorChallenged[jobId]) {
            if (escrow.getJob(jobId).status == IJobEscrow.JobStatus.Slashed) {
                a.state = AuditState.Disputed;
                au.misses = 0;
                emit AuditDisputed(jobId, auditor);
            } else {
                a.state = AuditState.Missed;
                emit AuditMissed(jobId, auditor, au.misses);
            }
            return;
        }
        a.state = AuditState.Missed;
        uint8 misses = au.misses;
        // Saturating: an ejected auditor keeps missing the draws seeded before its ejection
        // (on a busy model, hundreds), and settlement must never revert for the job's sake.
        if (misses < type(uint8).max) ++misses;
        au.misses = misses;
        emit AuditMissed(jobId, auditor, misses);
        if (misses >= _params.maxMisses && au.ejectedBlock == 0) _eject(auditor, au, false);
    }

    /// @dev Out of every pool for good; unclaimed pay goes back to the pool. The bond (if not
    /// slashed) unlocks after leaveDelay like any leaver's.
    function _eject(address verifier, Auditor storage au, bool slashed) private {
        au.ejectedBlock = uint48(block.number);
        uint128 forfeited = au.unclaimed;
        au.unclaimed = 0;
        reserved -= forfeited;
        if (_modelsOf[verifier].length != 0) {
            _leaveAll(verifier);
            au.releaseAfter = uint40(block.timestamp + _params.leaveDelay);
        }
        emit AuditorEjected(verifier, forfeited, slashed);
    }
}
