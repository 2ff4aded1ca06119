// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {TraceTree} from "../utils/TraceTree.sol";
import {Vm, vm} from "../utils/Vm.sol";

interface IMintableToken {
    function mint(address to, uint256 amount) external;
}

/// @notice Random actors drive the incentive flows of PROTOCOL §9 — jobs with real trace roots,
/// audit draws under chosen block hashes (some zero, some left to lapse), honest and forged
/// probe reports, claims, canaries, disputes (this handler is the dispute game), settlement,
/// misses, pool joins and leaves — and record in ghost variables what the contracts did, so the
/// invariants can compare it with what they were allowed to do.
contract IncentivesHandler {
    JobEscrow public immutable escrow;
    NodeRegistry public immutable nodes;
    AuditManager public immutable audits;
    ModelRegistry public immutable models;
    IERC20 public immutable token;
    /// Jobs run on `model`; `otherModel` only has a pool (ejection leaves every pool).
    bytes32 public immutable model;
    bytes32 public immutable otherModel;

    address[] public provers;
    address[] public clients;
    address[] public verifiers;
    address[] public volunteers;
    uint256[] public jobIds;
    /// Jobs whose draw was fixed Assigned, and jobs with an accepted report: the actions that
    /// need such jobs pick from these so short sequences still reach claims and canaries.
    uint256[] internal _assigned;
    uint256[] internal _agreed;
    /// Committed jobs and jobs with an open dispute (the latter may repeat).
    uint256[] internal _committed;
    uint256[] internal _disputed;
    mapping(uint256 jobId => bool) internal _listed;

    /// Salt of a job the handler (canary role) committed to as a canary before its result.
    mapping(uint256 jobId => bytes32) public canarySalt;
    mapping(uint256 jobId => uint32[]) internal _openSeqs;
    mapping(uint256 jobId => address[]) internal _openChallengers;

    // ---- ghosts
    /// A job opened while its prover was jailed.
    uint256 public jailedOpens;
    /// After an open, the prover's exposure exceeded the limit its free stake allows.
    uint256 public deterrenceBreaches;
    /// A report with a forged probe leaf was accepted.
    uint256 public forgedReportsAccepted;
    /// A job's pay was claimed without an accepted report carrying the real probe, or twice.
    uint256 public claimsWithoutValidReveal;
    mapping(uint256 jobId => bool) public validReveal;
    mapping(uint256 jobId => uint256) public timesClaimed;
    uint256 public auditPayClaimed;
    /// SlashRewardPaid events per job, and their amounts.
    mapping(uint256 jobId => uint256) public rewardsPaidFor;
    uint256 public totalRewards;
    /// Stake (incl. unbonding) taken from provers by fraud slashes.
    uint256 public totalFraudSlashed;
    /// Coverage counters: how often each interesting path actually ran.
    uint256 public reports;
    uint256 public claims;
    uint256 public canarySlashes;
    uint256 public frauds;
    uint256 public missesRecorded;
    uint256 public deterrenceRefusals;

    constructor(
        JobEscrow escrow_,
        AuditManager audits_,
        bytes32 model_,
        bytes32 otherModel_,
        address[] memory provers_,
        address[] memory clients_,
        address[] memory verifiers_,
        address[] memory volunteers_
    ) {
        escrow = escrow_;
        audits = audits_;
        nodes = NodeRegistry(address(escrow_.nodes()));
        models = ModelRegistry(address(escrow_.models()));
        token = escrow_.token();
        model = model_;
        otherModel = otherModel_;
        provers = provers_;
        clients = clients_;
        verifiers = verifiers_;
        volunteers = volunteers_;
        token.approve(address(escrow_), type(uint256).max);
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function verifierCount() external view returns (uint256) {
        return verifiers.length;
    }

    function volunteerCount() external view returns (uint256) {
        return volunteers.length;
    }

    function proverCount() external view returns (uint256) {
        return provers.length;
    }

    // ------------------------------------------------------------------ jobs

    /// @dev Half the jobs are committed to as canaries right after opening (before any result);
    /// `commitSeed` commits the result at once two times in three.
    function openJob(uint256 actorSeed, uint256 proverSeed, uint8 inTok, uint8 maxOut, uint256 commitSeed) external {
        address client = _pick(clients, actorSeed);
        address prover = _pick(provers, proverSeed);
        INodeRegistry.Offer memory offer = nodes.getOffer(prover, model);
        // Short jobs keep the trace trees small (N ≤ 5: at most 24 leaves).
        inTok = 1 + inTok % 2;
        maxOut = 1 + maxOut % 3;
        uint256 cost = uint256(inTok) * offer.inputPrice + uint256(maxOut) * offer.outputPrice;
        IMintableToken(address(token)).mint(client, cost);
        bool jailed = block.timestamp < nodes.getNode(prover).jailedUntil;
        vm.startPrank(client);
        token.approve(address(escrow), cost);
        try escrow.openJob(
            IJobEscrow.OpenJobParams(prover, model, keccak256("prompt"), 0, inTok, maxOut, offer.inputPrice, offer.outputPrice)
        ) returns (uint256 id) {
            vm.stopPrank();
            jobIds.push(id);
            if (jailed) ++jailedOpens;
            if (escrow.exposure(prover) > audits.exposureLimit(model, nodes.freeStake(prover))) ++deterrenceBreaches;
            if (commitSeed % 2 == 0) {
                bytes32 salt = keccak256(abi.encode("canary", id));
                audits.commitCanary(keccak256(abi.encode(prover, salt)));
                canarySalt[id] = salt;
                vm.roll(block.number + 1); // the commitment must predate the seed block
            }
            if (commitSeed % 3 != 0) _commit(id, uint8(commitSeed >> 8), commitSeed >> 16);
        } catch (bytes memory reason) {
            vm.stopPrank();
            if (bytes4(reason) == JobEscrow.InsufficientDeterrence.selector) ++deterrenceRefusals;
        }
    }

    function commit(uint256 jobSeed, uint8 outTok, uint256 hashSeed) external {
        uint256 id = _job(jobSeed);
        if (id != 0) _commit(id, outTok, hashSeed);
    }

    function decline(uint256 jobSeed) external {
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        vm.prank(escrow.getJob(id).prover);
        try escrow.declineJob(id) {} catch {}
    }

    function refundExpired(uint256 jobSeed) external {
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        try escrow.refundExpired(id) {} catch {}
    }

    function finalize(uint256 jobSeed) external {
        uint256 id = _pickJob(_committed, jobSeed);
        if (id == 0) return;
        try escrow.finalize(id) {} catch {}
    }

    // ------------------------------------------------------------------ audits

    function fixDraw(uint256 jobSeed) external {
        uint256 id = _job(jobSeed);
        if (id != 0) _fixDraw(id);
    }

    /// @dev The assigned auditor reports with the real probe leaf, or (one in four) with bytes
    /// that are not the committed chunk: the latter must never be accepted.
    function report(uint256 jobSeed, uint8 forgeSeed) external {
        bool forge = forgeSeed % 4 == 0;
        uint256 id = _pickInState(_assigned, jobSeed, AuditManager.AuditState.Assigned);
        if (id == 0) return;
        IJobEscrow.Job memory job = escrow.getJob(id);
        if (job.outputTokens == 0) return;
        AuditManager.Assignment memory s = audits.assignment(id);
        if (s.auditor == address(0)) return;
        TraceTree.Shape memory shape = _shape(uint256(job.inputTokens) + job.outputTokens);
        bytes memory chunk = TraceTree.chunkBytes(_traceSalt(id), s.probeBoundary, s.probeRow, s.probeChunk);
        bytes32[] memory proof = TraceTree.proof(
            TraceTree.leaves(_traceSalt(id), shape), TraceTree.hiddenIndex(shape, s.probeBoundary, s.probeRow, s.probeChunk)
        );
        if (forge) chunk = bytes.concat(chunk, hex"01");
        vm.prank(s.auditor);
        try audits.reportAudit(id, chunk, proof) {
            if (forge) ++forgedReportsAccepted;
            else validReveal[id] = true;
            _agreed.push(id);
            ++reports;
        } catch {}
    }

    /// @dev The auditor of an agreed job claims it, alone or with a second job (maybe not its
    /// own); three times in four it first waits until the pay vests.
    function claim(uint256 jobSeed, uint256 otherSeed, uint8 waitSeed) external {
        bool wait = waitSeed % 4 != 0;
        uint256 id = _pickInState(_agreed, jobSeed, AuditManager.AuditState.Agreed);
        if (id == 0) return;
        AuditManager.Audit memory a = audits.getAudit(id);
        if (a.auditor == address(0)) return;
        if (wait && block.timestamp < a.vestsAt) vm.warp(a.vestsAt);
        address auditor = a.auditor;
        uint256 other = _pickJob(_agreed, otherSeed);
        uint256[] memory ids = new uint256[](other == id ? 1 : 2);
        ids[0] = id;
        if (other != id) ids[1] = other;
        vm.prank(auditor);
        try audits.claimAuditPay(ids) returns (uint256 total) {
            for (uint256 i; i < ids.length; ++i) {
                if (!validReveal[ids[i]] || timesClaimed[ids[i]]++ != 0) ++claimsWithoutValidReveal;
            }
            auditPayClaimed += total;
            ++claims;
        } catch {}
    }

    function exposeCanary(uint256 jobSeed) external {
        uint256 id = _pickInState(_agreed, jobSeed, AuditManager.AuditState.Agreed);
        if (id == 0 || canarySalt[id] == bytes32(0)) return;
        vm.recordLogs();
        vm.prank(escrow.getJob(id).prover); // only the canary prover may reveal its job
        try audits.exposeCanary(id, canarySalt[id]) {
            Vm.Log[] memory logs = vm.getRecordedLogs();
            for (uint256 i; i < logs.length; ++i) {
                if (logs[i].emitter == address(audits) && logs[i].topics[0] == AuditManager.AuditorEjected.selector) {
                    ++canarySlashes;
                }
            }
        } catch {}
    }

    /// @dev With `wait`, first wait until the assignment's deadline has passed.
    function recordMiss(uint256 jobSeed, bool wait) external {
        uint256 id = _pickInState(_assigned, jobSeed, AuditManager.AuditState.Assigned);
        if (id == 0) return;
        uint40 deadline = audits.getAudit(id).deadline;
        if (wait && block.timestamp <= deadline) vm.warp(uint256(deadline) + 1);
        try audits.recordMiss(id) {
            ++missesRecorded;
        } catch {}
    }

    function fundPool(uint256 amount) external {
        amount = 1 + amount % 1e16;
        IMintableToken(address(token)).mint(address(this), amount);
        escrow.fundAuditPool(amount);
    }

    // ------------------------------------------------------------------ disputes (this is the game)

    /// @dev The challenger is the job's assigned auditor (`byAuditor`) or a volunteer.
    function openDispute(uint256 jobSeed, uint256 challengerSeed, bool byAuditor) external {
        uint256 id = byAuditor ? _pickInState(_assigned, jobSeed, AuditManager.AuditState.Assigned) : _pickJob(_committed, jobSeed);
        if (id == 0) return;
        address challenger = byAuditor ? audits.assignment(id).auditor : address(0);
        if (challenger == address(0)) challenger = _pick(volunteers, challengerSeed);
        try escrow.onDisputeOpened(id, challenger) returns (uint32 seq) {
            _openSeqs[id].push(seq);
            _openChallengers[id].push(challenger);
            _disputed.push(id);
        } catch {}
    }

    function resolveDispute(uint256 jobSeed, bool fault, uint256 which) external {
        uint256 id = _pickJob(_disputed, jobSeed);
        uint256 n = _openSeqs[id].length;
        if (id == 0 || n == 0) return;
        uint256 i = which % n;
        IJobEscrow.Job memory before = escrow.getJob(id);
        INodeRegistry.Node memory p = nodes.getNode(before.prover);
        vm.recordLogs();
        escrow.onDisputeResolved(id, _openSeqs[id][i], fault, _openChallengers[id][i]);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 j; j < logs.length; ++j) {
            if (logs[j].emitter == address(escrow) && logs[j].topics[0] == JobEscrow.SlashRewardPaid.selector) {
                (, uint256 reward) = abi.decode(logs[j].data, (uint32, uint256));
                ++rewardsPaidFor[uint256(logs[j].topics[1])];
                totalRewards += reward;
            }
        }
        if (before.status == IJobEscrow.JobStatus.Committed && fault) {
            INodeRegistry.Node memory after_ = nodes.getNode(before.prover);
            totalFraudSlashed += (uint256(p.stake) + p.unbonding) - (uint256(after_.stake) + after_.unbonding);
            ++frauds;
        }
        _openSeqs[id][i] = _openSeqs[id][n - 1];
        _openSeqs[id].pop();
        _openChallengers[id][i] = _openChallengers[id][n - 1];
        _openChallengers[id].pop();
    }

    // ------------------------------------------------------------------ pools and stake

    function join(uint256 verifierSeed, bool other) external {
        vm.prank(_pick(verifiers, verifierSeed));
        try audits.joinPool(other ? otherModel : model) {} catch {}
    }

    function leave(uint256 verifierSeed, bool other) external {
        vm.prank(_pick(verifiers, verifierSeed));
        try audits.leavePool(other ? otherModel : model) {} catch {}
    }

    function prune(uint256 index, bool other) external {
        bytes32 m = other ? otherModel : model;
        try audits.prune(m, index % (audits.poolOf(m).length + 1)) {} catch {}
    }

    function releaseBond(uint256 verifierSeed) external {
        vm.prank(_pick(verifiers, verifierSeed));
        try audits.releaseBond() {} catch {}
    }

    function unbond(uint256 proverSeed, uint128 amount) external {
        vm.prank(_pick(provers, proverSeed));
        try nodes.requestUnbond(uint128(1 + amount % 50e18)) {} catch {}
    }

    /// @dev Escrow credits for anyone; registry credits only for provers and clients, so the
    /// verifiers' and volunteers' registry credits stay equal to the rewards they were paid.
    function withdraw(uint256 actorSeed, uint8 kind) external {
        address who = kind % 3 == 0 ? _pick(provers, actorSeed) : kind % 3 == 1 ? _pick(clients, actorSeed) : _pick(verifiers, actorSeed);
        vm.prank(who);
        try escrow.withdraw() {} catch {}
        if (kind % 3 != 2) {
            vm.prank(who);
            try nodes.withdrawCredits() {} catch {}
        }
    }

    /// @dev Mostly minutes (audit period 30 min, challenge window 1 h); one in five a day
    /// (vesting, jail and leave delays).
    function warp(uint32 seconds_) external {
        vm.warp(block.timestamp + (seconds_ % 5 == 0 ? 1 days : seconds_ % 1_200));
    }

    /// @dev Past the 256 blocks of blockhash: unfixed draws lapse, leavers become prunable.
    function rollPastTheSeedHorizon() external {
        vm.roll(block.number + 257);
    }

    // ------------------------------------------------------------------ internals

    function _pick(address[] storage from, uint256 seed) private view returns (address) {
        return from[seed % from.length];
    }

    function _job(uint256 seed) private view returns (uint256) {
        return jobIds.length == 0 ? 0 : jobIds[seed % jobIds.length];
    }

    /// @dev A job from `list`, or any job while the list is empty.
    function _pickJob(uint256[] storage list, uint256 seed) private view returns (uint256) {
        return list.length == 0 ? _job(seed) : list[seed % list.length];
    }

    /// @dev The first job of `list` from a random start whose audit is in `state` (so actions
    /// are not wasted on audits already answered), else a random one of the list.
    function _pickInState(uint256[] storage list, uint256 seed, AuditManager.AuditState state)
        private
        view
        returns (uint256)
    {
        uint256 n = list.length;
        for (uint256 i; i < n; ++i) {
            uint256 id = list[(seed + i) % n];
            if (audits.getAudit(id).state == state) return id;
        }
        return _pickJob(list, seed);
    }

    /// @dev Commits the job's honest trace root, then mines the next block with a chosen hash for
    /// the commit block (one in eight zero: the draw lapses); three times in four the draw is fixed
    /// at once, as an honest auditor's node does.
    function _commit(uint256 id, uint8 outTok, uint256 hashSeed) private {
        IJobEscrow.Job memory job = escrow.getJob(id);
        if (job.status != IJobEscrow.JobStatus.Open) return;
        outTok = uint8(1 + outTok % job.maxOutputTokens);
        bytes32 root = TraceTree.root(TraceTree.leaves(_traceSalt(id), _shape(uint256(job.inputTokens) + outTok)));
        vm.prank(job.prover);
        try escrow.commitResult(id, root, keccak256("output"), outTok) {
            _committed.push(id);
            uint256 seedBlock = block.number;
            vm.roll(seedBlock + 1);
            vm.setBlockhash(seedBlock, hashSeed % 8 == 0 ? bytes32(0) : keccak256(abi.encode(hashSeed)));
            if (hashSeed % 4 != 0) _fixDraw(id);
        } catch {}
    }

    function _fixDraw(uint256 id) private {
        try audits.fixDraw(id) returns (AuditManager.AuditState state) {
            if (state == AuditManager.AuditState.Assigned && !_listed[id]) {
                _listed[id] = true;
                _assigned.push(id);
            }
        } catch {}
    }

    function _traceSalt(uint256 id) private pure returns (bytes32) {
        return keccak256(abi.encode("trace", id));
    }

    function _shape(uint256 tokens) private view returns (TraceTree.Shape memory s) {
        IModelRegistry.Model memory m = models.getModel(model);
        s.tokens = tokens;
        s.layers = m.arch.layers;
        s.chunks = (uint256(m.arch.hidden) + m.encoding.chunkSize - 1) / m.encoding.chunkSize;
    }
}
