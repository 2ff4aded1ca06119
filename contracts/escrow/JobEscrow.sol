// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IAuditManager} from "../interfaces/IAuditManager.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {TokenTransfers} from "../libraries/TokenTransfers.sol";
import {EscrowParams} from "./EscrowParams.sol";
import {CreditLedger} from "../libraries/CreditLedger.sol";
import {TokenRoot} from "../libraries/TokenRoot.sol";

/// @title JobEscrow
/// @notice Per-token payment for verified inference (docs/PROTOCOL.md §5). A client escrows a
/// job's maximum cost for a prompt fixed by its token root and length; the prover commits the
/// trace root and the output's token root; after the challenge window anyone finalizes: the
/// prover is paid `inputTokens·inputPrice + outputTokens·outputPrice` less the protocol fee and
/// the client gets the rest. All payouts are credits, withdrawn by their owner. A share of every
/// settled job's cost funds the audit pool that pays protocol-assigned auditors (§9.2); a job
/// opens only while the prover's stake makes cheating on its open jobs a losing bet (§9.4).
/// Solvency: `balance == totalEscrowed + totalCredits + auditPool`.
contract JobEscrow is IJobEscrow, EscrowParams, CreditLedger, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The voucher escrow (PROTOCOL §5.8), which moves batched jobs here for disputes.
    bytes32 public constant VOUCHERS_ROLE = keccak256("VOUCHERS_ROLE");

    /// @notice Upper bound on `finalizeMany` so one call always fits in a block.
    uint256 public constant MAX_BATCH = 100;

    IERC20 public immutable token;
    INodeRegistry public immutable nodes;
    IModelRegistry public immutable models;

    uint256 public nextJobId = 1;
    uint256 public totalEscrowed;
    /// @notice Audit fees collected and not yet paid to auditors (PROTOCOL §9.2).
    uint256 public auditPool;
    /// @notice Escrow of each prover's Open and Committed jobs: what it could gain by cheating on
    /// all of them at once (PROTOCOL §9.4).
    mapping(address prover => uint256) public exposure;

    mapping(uint256 jobId => Job) private _jobs;
    mapping(uint256 jobId => SlashReward) private _rewards;
    /// @notice Open jobs of each prover whose prompt is published (at most maxPublishedPerProver).
    mapping(address prover => uint256) public publishedOpen;

    /// binary32 2^16: a larger positive finite temperature is refused (PROTOCOL §4.4).
    uint32 internal constant MAX_TEMPERATURE_BITS = 0x47800000;
    /// binary32 +infinity: bit patterns at or above it (sign clear) are not finite.
    uint32 internal constant POSITIVE_INFINITY_BITS = 0x7f800000;

    error UnknownJob(uint256 jobId);
    error WrongStatus(uint256 jobId, JobStatus status, JobStatus expected);
    error NotJobProver(uint256 jobId, address caller);
    error NoActiveOffer(address prover, bytes32 modelId);
    error PriceMismatch(uint128 offeredInput, uint128 offeredOutput, uint128 agreedInput, uint128 agreedOutput);
    error InvalidTokenLimits(uint32 inputTokens, uint32 maxOutputTokens, uint32 context);
    error UnverifiableSampling(uint256 samplingParams);
    error CostOverflow();
    error CommitDeadlinePassed(uint256 jobId, uint64 deadline);
    error CommitDeadlineNotPassed(uint256 jobId, uint64 deadline);
    error InvalidCommitment(uint256 jobId);
    error OutputTokensOutOfRange(uint256 jobId, uint32 outputTokens, uint32 maxOutputTokens);
    error ChallengeWindowOpen(uint256 jobId, uint64 challengeDeadline);
    error ChallengeWindowClosed(uint256 jobId, uint64 challengeDeadline);
    error DisputesOpen(uint256 jobId, uint32 openDisputes);
    error NoAuditManager();
    /// Opening would leave the prover's stake too small to deter cheating on its open jobs.
    error InsufficientDeterrence(address prover, uint256 exposure, uint256 limit);
    error AuditPoolShortfall(uint256 pool, uint256 amount);
    error NoOpenDispute(uint256 jobId);
    error BatchTooLarge(uint256 length, uint256 max);
    error NotJobClient(uint256 jobId, address caller);
    error PromptMismatch(uint256 jobId, bytes32 promptRoot, bytes32 published);
    /// The published prompt is not exactly 4·inputTokens bytes.
    error InvalidPrompt(uint256 jobId, uint256 length);
    error InvalidTokenId(uint256 jobId, uint256 index, uint32 id);
    error PromptAlreadyPublished(uint256 jobId);
    error PublishQueueFull(address prover, uint256 cap);
    error DeclineWindowClosed(uint256 jobId, uint64 declineDeadline);

    event JobOpened(
        uint256 indexed jobId,
        address indexed client,
        address indexed prover,
        bytes32 modelId,
        bytes32 promptRoot,
        uint32 inputTokens,
        uint256 escrowed,
        uint256 collateral,
        uint64 commitDeadline
    );
    event ResultCommitted(
        uint256 indexed jobId,
        bytes32 traceRoot,
        bytes32 outputRoot,
        uint32 outputTokens,
        uint64 challengeDeadline
    );
    event JobFinalized(uint256 indexed jobId, uint256 proverPaid, uint256 fee, uint256 clientRefund, uint256 auditFee);
    event JobExpired(uint256 indexed jobId, uint256 clientRefund, uint256 penalty);
    /// @notice The prover declined the job: the client is refunded in full, nothing is slashed.
    event JobDeclined(uint256 indexed jobId, address indexed prover, uint256 clientRefund, bool promptPublished);
    event JobDisputeOpened(uint256 indexed jobId, uint32 seq, address indexed challenger, uint32 openDisputes);
    event JobDisputeResolved(uint256 indexed jobId, uint32 seq, bool proverAtFault, uint32 openDisputes);
    /// @notice Fraud proven: the client is refunded, `slashed` taken from the prover (collateral
    /// plus a share of its stake, PROTOCOL §9.4), `reward` held for the earliest challenger and
    /// the rest credited to the treasury; the prover is jailed until `jailedUntil`.
    event JobSlashed(uint256 indexed jobId, address indexed prover, uint256 slashed, uint256 reward, uint256 clientRefund, uint64 jailedUntil);
    /// @notice The held reward of a slashed job went to the challenger of its earliest-opened
    /// dispute still unresolved at the slash (PROTOCOL §9.5).
    event SlashRewardPaid(uint256 indexed jobId, address indexed challenger, uint32 seq, uint256 reward);
    event AuditPoolFunded(address indexed from, uint256 amount, uint256 pool);
    /// @notice An answered availability challenge of the job's auditor kept the job open to disputes.
    event ChallengeWindowExtended(uint256 indexed jobId, uint64 challengeDeadline);
    event AuditPaid(address indexed auditor, uint256 amount, uint256 pool);
    /// @notice The prompt's token ids (uint32 big-endian each) for the prover to serve from; the
    /// prover may decline until `declineDeadline`.
    event PromptPublished(
        uint256 indexed jobId, address indexed prover, bytes prompt, uint64 commitDeadline, uint64 declineDeadline
    );

    constructor(address admin, IERC20 token_, INodeRegistry nodes_, IModelRegistry models_, Params memory params_)
        EscrowParams(admin, params_)
    {
        token = token_;
        nodes = nodes_;
        models = models_;
    }

    // ------------------------------------------------------------------ client

    /// @inheritdoc IJobEscrow
    function openJob(OpenJobParams calldata p) public nonReentrant returns (uint256 jobId) {
        INodeRegistry.Offer memory offer = nodes.getOffer(p.prover, p.modelId);
        if (!offer.active) revert NoActiveOffer(p.prover, p.modelId);
        if (offer.inputPrice != p.inputPrice || offer.outputPrice != p.outputPrice) {
            revert PriceMismatch(offer.inputPrice, offer.outputPrice, p.inputPrice, p.outputPrice);
        }
        uint32 context = models.getModel(p.modelId).arch.context;
        if (p.inputTokens == 0 || p.maxOutputTokens == 0 || uint256(p.inputTokens) + p.maxOutputTokens > context) {
            revert InvalidTokenLimits(p.inputTokens, p.maxOutputTokens, context);
        }
        // INVARIANT: every open job's sampling rule is one the judge can check (PROTOCOL §4.4).
        if (!verifiableSampling(p.samplingParams)) revert UnverifiableSampling(p.samplingParams);
        uint256 cost = maxCost(p);
        if (cost > type(uint128).max) revert CostOverflow();
        IAuditManager audits = IAuditManager(auditManager());
        if (address(audits) == address(0)) revert NoAuditManager();
        uint16 auditFee = audits.auditFeeBps();
        Params memory params = _params;
        uint256 collateral = cost * params.collateralBps / BPS;
        if (collateral < params.minCollateral) collateral = params.minCollateral;

        jobId = nextJobId++;
        uint64 commitDeadline = uint64(block.timestamp) + params.commitTimeout;
        _jobs[jobId] = Job({
            client: msg.sender,
            auditFeeBps: auditFee,
            prover: p.prover,
            modelId: p.modelId,
            promptRoot: p.promptRoot,
            samplingParams: p.samplingParams,
            traceRoot: bytes32(0),
            outputRoot: bytes32(0),
            inputPrice: p.inputPrice,
            outputPrice: p.outputPrice,
            escrowed: uint128(cost),
            collateral: uint128(collateral),
            inputTokens: p.inputTokens,
            maxOutputTokens: p.maxOutputTokens,
            outputTokens: 0,
            openedAt: uint40(block.timestamp),
            commitDeadline: commitDeadline,
            challengeDeadline: 0,
            challengeWindow: params.challengeWindow,
            feeBps: params.feeBps,
            openDisputes: 0,
            status: JobStatus.Open,
            promptPublished: false,
            declineDeadline: 0
        });
        totalEscrowed += cost;
        // Reverts unless the prover is an active, unjailed prover with enough free stake.
        nodes.lockCollateral(p.prover, collateral);
        _addExposure(p.prover, p.modelId, cost);
        TokenTransfers.pullExact(token, msg.sender, cost);
        emit JobOpened(jobId, msg.sender, p.prover, p.modelId, p.promptRoot, p.inputTokens, cost, collateral, commitDeadline);
    }

    /// @notice `openJob` after an EIP-2612 permit, in one transaction. A permit that fails
    /// (e.g. front-run by someone submitting it first) is ignored if the allowance suffices.
    function openJobWithPermit(OpenJobParams calldata p, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256)
    {
        uint256 cost = maxCost(p);
        try IERC20Permit(address(token)).permit(msg.sender, address(this), cost, deadline, v, r, s) {} catch {}
        return openJob(p);
    }

    /// @notice Publish the job's prompt on-chain (token ids, uint32 big-endian each) when the
    /// prover did not serve it off-chain. The prompt must be exactly `inputTokens` ids, each below
    /// the model's vocabulary, with `TokenRoot.root(prompt, 0) == promptRoot`: only a prompt the
    /// prover can run is ever blamed on it. The prover then gets at least `commitTimeout` more to
    /// commit (or `declineWindow` to decline), and a missed deadline is its fault.
    function publishPrompt(uint256 jobId, bytes calldata prompt) external {
        Job storage job = _requireStatus(jobId, JobStatus.Open);
        if (msg.sender != job.client) revert NotJobClient(jobId, msg.sender);
        if (job.promptPublished) revert PromptAlreadyPublished(jobId);
        // INVARIANT: an expired job cannot be revived by publishing late and so turned into a
        // penalty against a prover that had stopped watching it (adversarial review, this session).
        if (block.timestamp > job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
        if (prompt.length != uint256(job.inputTokens) * 4) revert InvalidPrompt(jobId, prompt.length);
        uint32 vocab = models.getModel(job.modelId).arch.vocab;
        uint256 n = prompt.length / 4;
        for (uint256 i; i < n; ++i) {
            uint32 id = uint32(bytes4(prompt[4 * i:4 * i + 4]));
            // INVARIANT: a published prompt is runnable: every id embeds (the prover cannot be
            // penalized for a prompt no model can serve).
            if (id >= vocab) revert InvalidTokenId(jobId, i, id);
        }
        bytes32 published = TokenRoot.root(prompt, 0);
        if (published != job.promptRoot) revert PromptMismatch(jobId, job.promptRoot, published);
        Params memory params = _params;
        // INVARIANT: publishedOpen[prover] ≤ maxPublishedPerProver at publication, so the work a
        // prover can be forced to do within one commit timeout is bounded.
        if (publishedOpen[job.prover] >= params.maxPublishedPerProver) {
            revert PublishQueueFull(job.prover, params.maxPublishedPerProver);
        }
        ++publishedOpen[job.prover];
        uint64 deadline = uint64(block.timestamp) + params.commitTimeout;
        if (deadline > job.commitDeadline) job.commitDeadline = deadline;
        uint64 declineDeadline = uint64(block.timestamp) + params.declineWindow;
        job.promptPublished = true;
        job.declineDeadline = declineDeadline;
        emit PromptPublished(jobId, job.prover, prompt, job.commitDeadline, declineDeadline);
    }

    /// @notice The job's prover declines an Open job: at any time before the prompt is published,
    /// or within `declineWindow` after publication (e.g. a prompt it cannot finish in time). The
    /// client is refunded in full and the collateral unlocked, with no penalty.
    function declineJob(uint256 jobId) external nonReentrant {
        Job storage job = _requireStatus(jobId, JobStatus.Open);
        if (msg.sender != job.prover) revert NotJobProver(jobId, msg.sender);
        bool published = job.promptPublished;
        if (published && block.timestamp > job.declineDeadline) revert DeclineWindowClosed(jobId, job.declineDeadline);
        job.status = JobStatus.Declined;
        if (published) --publishedOpen[job.prover];
        uint256 refund = job.escrowed;
        _credit(job.client, refund);
        totalEscrowed -= refund;
        exposure[job.prover] -= refund;
        nodes.unlockCollateral(job.prover, job.collateral);
        emit JobDeclined(jobId, job.prover, refund, published);
    }

    /// @notice After a missed commit deadline: refund the client in full and unlock the prover's
    /// collateral. If the prompt was published on-chain the prover had it for sure, so part of
    /// the collateral is paid to the client as a penalty; otherwise a client could withhold the
    /// prompt and collect a penalty the prover could not avoid. Anyone may call.
    function refundExpired(uint256 jobId) external nonReentrant {
        Job storage job = _requireStatus(jobId, JobStatus.Open);
        // Commits are accepted at t <= commitDeadline, so expiry starts strictly after it.
        if (block.timestamp <= job.commitDeadline) revert CommitDeadlineNotPassed(jobId, job.commitDeadline);
        job.status = JobStatus.Expired;
        if (job.promptPublished) --publishedOpen[job.prover];
        uint256 refund = job.escrowed;
        uint256 collateral = job.collateral;
        uint256 penalty = job.promptPublished ? collateral * _params.missedCommitPenaltyBps / BPS : 0;
        _credit(job.client, refund);
        totalEscrowed -= refund;
        exposure[job.prover] -= refund;
        if (penalty > 0) {
            // No stake share, no jail: missing a deadline is not fraud.
            nodes.slashStake(job.prover, penalty, 0, 0);
            nodes.transferCredits(job.client, penalty);
        }
        nodes.unlockCollateral(job.prover, collateral - penalty);
        emit JobExpired(jobId, refund, penalty);
    }

    // ------------------------------------------------------------------ prover

    /// @inheritdoc IJobEscrow
    function commitResult(uint256 jobId, bytes32 traceRoot, bytes32 outputRoot, uint32 outputTokens) external {
        Job storage job = _requireStatus(jobId, JobStatus.Open);
        if (msg.sender != job.prover) revert NotJobProver(jobId, msg.sender);
        if (block.timestamp > job.commitDeadline) revert CommitDeadlinePassed(jobId, job.commitDeadline);
        if (traceRoot == bytes32(0) || outputRoot == bytes32(0)) revert InvalidCommitment(jobId);
        // INVARIANT: outputTokens ≤ maxOutputTokens keeps the payout within the escrow (quote()).
        if (outputTokens == 0 || outputTokens > job.maxOutputTokens) {
            revert OutputTokensOutOfRange(jobId, outputTokens, job.maxOutputTokens);
        }
        uint64 challengeDeadline = uint64(block.timestamp) + job.challengeWindow;
        job.traceRoot = traceRoot;
        job.outputRoot = outputRoot;
        job.outputTokens = outputTokens;
        job.challengeDeadline = challengeDeadline;
        job.status = JobStatus.Committed;
        if (job.promptPublished) --publishedOpen[job.prover];
        emit ResultCommitted(jobId, traceRoot, outputRoot, outputTokens, challengeDeadline);
        // Seeds the audit draw with this block's hash, unknown to the prover when it sent this.
        IAuditManager(auditManager()).onResultCommitted(jobId, job.modelId, challengeDeadline);
    }

    // ------------------------------------------------------------------ batched jobs

    /// @notice A job of a voucher batch moved here to be disputed (PROTOCOL §5.8): recorded as
    /// Committed with a fresh challenge window and the audit draw seeded now, then settled,
    /// disputed and slashed exactly like an opened job. The voucher escrow has transferred the
    /// job's charge (`escrowed`) and hands over `collateral` of the prover's locked stake, whose
    /// lock moves with the job (no relock, so a jailed prover's batched jobs stay disputable).
    function adoptBatchedJob(Job calldata j) external onlyRole(VOUCHERS_ROLE) returns (uint256 jobId) {
        jobId = nextJobId++;
        Job storage job = _jobs[jobId];
        _jobs[jobId] = j;
        uint64 challengeDeadline = uint64(block.timestamp) + j.challengeWindow;
        job.openedAt = uint40(block.timestamp);
        job.commitDeadline = uint64(block.timestamp);
        job.challengeDeadline = challengeDeadline;
        job.status = JobStatus.Committed;
        job.openDisputes = 0;
        totalEscrowed += j.escrowed;
        exposure[j.prover] += j.escrowed;
        emit JobOpened(jobId, j.client, j.prover, j.modelId, j.promptRoot, j.inputTokens, j.escrowed, j.collateral, job.commitDeadline);
        emit ResultCommitted(jobId, j.traceRoot, j.outputRoot, j.outputTokens, challengeDeadline);
        IAuditManager(auditManager()).onResultCommitted(jobId, j.modelId, challengeDeadline);
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Pay out a committed job whose challenge window has ended with no open dispute.
    /// Anyone may call; reverts with the reason when the job cannot be finalized.
    function finalize(uint256 jobId) external nonReentrant {
        Job storage job = _requireStatus(jobId, JobStatus.Committed);
        if (job.openDisputes != 0) revert DisputesOpen(jobId, job.openDisputes);
        if (block.timestamp <= job.challengeDeadline) revert ChallengeWindowOpen(jobId, job.challengeDeadline);
        _settle(jobId, job);
    }

    /// @notice Finalize up to MAX_BATCH jobs; jobs not (or no longer) finalizable are skipped so
    /// one settled-by-someone-else job cannot sink the batch.
    /// @return settled How many jobs this call finalized.
    function finalizeMany(uint256[] calldata jobIds) external nonReentrant returns (uint256 settled) {
        if (jobIds.length > MAX_BATCH) revert BatchTooLarge(jobIds.length, MAX_BATCH);
        for (uint256 i; i < jobIds.length; ++i) {
            Job storage job = _jobs[jobIds[i]];
            if (job.status == JobStatus.Committed && job.openDisputes == 0 && block.timestamp > job.challengeDeadline) {
                _settle(jobIds[i], job);
                ++settled;
            }
        }
    }

    /// @notice Withdraw the caller's credits (payments, refunds, fees).
    function withdraw() external nonReentrant {
        _withdrawCredits(token);
    }

    // ------------------------------------------------------------------ audit pool

    /// @notice Add `amount` to the audit pool (e.g. the treasury bootstrapping audit pay before
    /// fees have accumulated).
    function fundAuditPool(uint256 amount) external nonReentrant {
        auditPool += amount;
        TokenTransfers.pullExact(token, msg.sender, amount);
        emit AuditPoolFunded(msg.sender, amount, auditPool);
    }

    /// @notice Credit an auditor's vested pay from the pool (the audit manager decides who and
    /// how much, PROTOCOL §9.2).
    function payFromAuditPool(address auditor, uint256 amount) external onlyAuditManager {
        uint256 pool = auditPool;
        if (amount > pool) revert AuditPoolShortfall(pool, amount);
        auditPool = pool - amount;
        _credit(auditor, amount);
        emit AuditPaid(auditor, amount, pool - amount);
    }

    // ------------------------------------------------------------------ dispute hook

    /// @inheritdoc IJobEscrow
    function onDisputeOpened(uint256 jobId, address challenger) external onlyDisputeGame returns (uint32 seq) {
        Job storage job = _requireStatus(jobId, JobStatus.Committed);
        // Disputes are accepted at t <= challengeDeadline, finalization only at t > it.
        if (block.timestamp > job.challengeDeadline) revert ChallengeWindowClosed(jobId, job.challengeDeadline);
        uint32 open = ++job.openDisputes;
        seq = ++_rewards[jobId].disputesOpened;
        // Reverts while the job's assigned auditor has priority (PROTOCOL §9.1), so a prover's
        // sybil cannot open the earliest dispute on an audited job.
        IAuditManager(auditManager()).onDisputeOpened(jobId, challenger, msg.sender == disputeGame(), seq);
        emit JobDisputeOpened(jobId, seq, challenger, open);
    }

    /// @inheritdoc IJobEscrow
    function onDisputeResolved(uint256 jobId, uint32 seq, bool proverAtFault, address challenger)
        external
        onlyDisputeGame
        nonReentrant
    {
        Job storage job = _jobs[jobId];
        if (job.openDisputes == 0) revert NoOpenDispute(jobId);
        uint32 open = --job.openDisputes;
        emit JobDisputeResolved(jobId, seq, proverAtFault, open);
        if (msg.sender == availabilityGame()) {
            // An availability challenge answered, possibly at the last second: the auditor that
            // forced the rows gets time to use them (PROTOCOL §9.1), and the job stays open to
            // disputes that long, or withholding until the window closes would win.
            bool answered = !proverAtFault && job.status == JobStatus.Committed;
            uint64 until = IAuditManager(auditManager()).onAvailabilityResolved(jobId, seq, answered);
            if (until > job.challengeDeadline) {
                job.challengeDeadline = until;
                emit ChallengeWindowExtended(jobId, until);
            }
        }
        SlashReward storage r = _rewards[jobId];
        if (job.status == JobStatus.Committed) {
            // A dispute the prover won before any slash has no claim on a later reward.
            if (!proverAtFault) return;
            _slashForFraud(jobId, job, r, seq, challenger);
        } else if (seq < r.bestSeq) {
            // Every dispute resolving after the slash was unresolved at the slash: the earliest
            // opened of them is owed the reward, whoever resolved first (PROTOCOL §9.5).
            r.bestSeq = seq;
            r.bestChallenger = challenger;
        }
        if (open == 0 && r.held != 0) _payReward(jobId, r);
    }

    /// @notice The held reward of a slashed job and its current best candidate.
    function slashReward(uint256 jobId) external view returns (SlashReward memory) {
        return _rewards[jobId];
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IJobEscrow
    function getJob(uint256 jobId) external view returns (Job memory) {
        Job memory job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
        return job;
    }

    /// @notice What finalizing now would pay: (prover, protocol fee, client refund, audit fee).
    function quote(uint256 jobId)
        external
        view
        returns (uint256 proverPaid, uint256 fee, uint256 clientRefund, uint256 auditFee)
    {
        return _quote(_jobs[jobId]);
    }

    /// @notice What openJob escrows: `inputTokens·inputPrice + maxOutputTokens·outputPrice`.
    function maxCost(OpenJobParams calldata p) public pure returns (uint256) {
        return uint256(p.inputTokens) * p.inputPrice + uint256(p.maxOutputTokens) * p.outputPrice;
    }

    /// @notice Whether the judge can check a sampling rule (PROTOCOL §4.4): top-k (bits 32..63)
    /// is 0 (none) or 1 (greedy), and the temperature (bits 0..31, binary32) is not a positive
    /// finite value above 2^16. A temperature that is not positive finite means greedy.
    function verifiableSampling(uint256 samplingParams) public pure returns (bool) {
        uint256 topK = uint32(samplingParams >> 32);
        if (topK > 1) return false;
        uint32 tau = uint32(samplingParams);
        // Sign clear and below +inf: a positive (or zero) finite value; binary32 patterns of
        // such values order like the values themselves.
        return !(tau > MAX_TEMPERATURE_BITS && tau < POSITIVE_INFINITY_BITS);
    }

    // ------------------------------------------------------------------ internals

    /// @dev INVARIANT (PROTOCOL §9.4): p · slashShare · freeStake ≥ DETERRENCE · exposure after
    /// every open, so a prover cheating on any of its open jobs expects to lose ten times its gain.
    function _addExposure(address prover, bytes32 modelId, uint256 cost) private {
        uint256 exposed = exposure[prover] + cost;
        uint256 limit = IAuditManager(auditManager()).exposureLimit(modelId, nodes.freeStake(prover));
        if (exposed > limit) revert InsufficientDeterrence(prover, exposed, limit);
        exposure[prover] = exposed;
    }

    function _quote(Job storage job)
        private
        view
        returns (uint256 proverPaid, uint256 fee, uint256 clientRefund, uint256 auditFee)
    {
        uint256 cost = uint256(job.inputTokens) * job.inputPrice + uint256(job.outputTokens) * job.outputPrice;
        // Fees round down: the protocol never takes more than its rates (together ≤ 30 %).
        fee = cost * job.feeBps / BPS;
        auditFee = cost * job.auditFeeBps / BPS;
        proverPaid = cost - fee - auditFee;
        clientRefund = job.escrowed - cost;
    }

    function _settle(uint256 jobId, Job storage job) private {
        // inputTokens is what was escrowed for and outputTokens <= maxOutputTokens (checked at
        // commit), so cost <= escrowed and the subtractions in _quote() cannot underflow.
        (uint256 proverPaid, uint256 fee, uint256 clientRefund, uint256 auditFee) = _quote(job);
        job.status = JobStatus.Finalized;
        totalEscrowed -= job.escrowed;
        exposure[job.prover] -= job.escrowed;
        auditPool += auditFee;
        _credit(job.prover, proverPaid);
        _credit(treasury(), fee);
        _credit(job.client, clientRefund);
        nodes.unlockCollateral(job.prover, job.collateral);
        emit JobFinalized(jobId, proverPaid, fee, clientRefund, auditFee);
        // Records an unanswered audit assignment as missed (never reverts for the job's sake).
        IAuditManager(auditManager()).onJobFinalized(jobId);
    }

    /// @dev Fraud proven (or trace unavailable): refund the client, slash the job's collateral
    /// and a share of the prover's remaining stake, jail it, credit the treasury its part now
    /// and hold the reward until every dispute on the job has closed (PROTOCOL §9.4–§9.5).
    function _slashForFraud(uint256 jobId, Job storage job, SlashReward storage r, uint32 seq, address challenger)
        private
    {
        job.status = JobStatus.Slashed;
        uint256 refund = job.escrowed;
        _credit(job.client, refund);
        totalEscrowed -= refund;
        exposure[job.prover] -= refund;
        (uint16 shareBps, uint32 jailPeriod) = IAuditManager(auditManager()).fraudPenalty();
        uint64 jailedUntil = uint64(block.timestamp) + jailPeriod;
        uint256 slashed = nodes.slashStake(job.prover, job.collateral, shareBps, jailedUntil);
        uint256 reward = slashed * _params.challengerRewardBps / BPS;
        nodes.transferCredits(treasury(), slashed - reward);
        r.bestSeq = seq;
        r.bestChallenger = challenger;
        // reward <= slashed < 2^128 (it was stake).
        r.held = uint128(reward);
        emit JobSlashed(jobId, job.prover, slashed, reward, refund, jailedUntil);
    }

    function _payReward(uint256 jobId, SlashReward storage r) private {
        uint256 reward = r.held;
        r.held = 0;
        nodes.transferCredits(r.bestChallenger, reward);
        emit SlashRewardPaid(jobId, r.bestChallenger, r.bestSeq, reward);
    }

    function _requireStatus(uint256 jobId, JobStatus expected) private view returns (Job storage job) {
        job = _jobs[jobId];
        if (job.status == JobStatus.None) revert UnknownJob(jobId);
        if (job.status != expected) revert WrongStatus(jobId, job.status, expected);
    }
}
