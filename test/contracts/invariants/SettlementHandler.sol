// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";
import {vm} from "../utils/Vm.sol";

interface IMintable {
    function mint(address to, uint256 amount) external;
}

/// @notice Random actors drive every settlement action; ghost variables record what the
/// contracts paid so the invariants can check it against what they were allowed to pay.
/// The handler is also the dispute game, so disputes open and resolve at random.
contract SettlementHandler {
    JobEscrow public immutable escrow;
    NodeRegistry public immutable nodes;
    IERC20 public immutable token;
    bytes32 public immutable model;

    address[] public provers;
    address[] public clients;
    uint256[] public jobIds;
    mapping(uint256 jobId => bytes) public prompts;
    /// Unresolved disputes of each job: sequence number and challenger.
    mapping(uint256 jobId => uint32[]) internal _openSeqs;
    mapping(uint256 jobId => address[]) internal _openChallengers;

    /// Ghosts.
    mapping(uint256 jobId => uint256) public timesSettled;
    uint256 public violations; // payouts seen in a state that forbids them
    uint256 public calls;

    constructor(JobEscrow escrow_, NodeRegistry nodes_, IERC20 token_, bytes32 model_, address[] memory provers_, address[] memory clients_) {
        escrow = escrow_;
        nodes = nodes_;
        token = token_;
        model = model_;
        provers = provers_;
        clients = clients_;
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function _pick(address[] storage list, uint256 seed) private view returns (address) {
        return list[seed % list.length];
    }

    function _job(uint256 seed) private view returns (uint256) {
        return jobIds.length == 0 ? 0 : jobIds[seed % jobIds.length];
    }

    /// @dev Prompts of 1..8 ids; one in eight has an id past the vocabulary (259), which
    /// publishPrompt must refuse.
    function openJob(uint256 actorSeed, uint256 proverSeed, uint32 inTok, uint32 maxOut) external {
        ++calls;
        address client = _pick(clients, actorSeed);
        address prover = _pick(provers, proverSeed);
        INodeRegistry.Offer memory offer = nodes.getOffer(prover, model);
        inTok = uint32(1 + inTok % 8);
        maxOut = uint32(1 + maxOut % 200);
        uint256 cost = uint256(inTok) * offer.inputPrice + uint256(maxOut) * offer.outputPrice;
        IMintable(address(token)).mint(client, cost);
        vm.startPrank(client);
        token.approve(address(escrow), cost);
        bytes memory prompt;
        for (uint256 i; i < inTok; ++i) prompt = abi.encodePacked(prompt, uint32(uint256(keccak256(abi.encode(actorSeed, i))) % 296));
        try escrow.openJob(
            IJobEscrow.OpenJobParams(prover, model, TokenRoot.root(prompt, 0), 0, inTok, maxOut, offer.inputPrice, offer.outputPrice)
        ) returns (uint256 id) {
            jobIds.push(id);
            prompts[id] = prompt;
        } catch {}
        vm.stopPrank();
    }

    function commit(uint256 jobSeed, uint32 outTok) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        IJobEscrow.Job memory job = escrow.getJob(id);
        vm.prank(job.prover);
        try escrow.commitResult(id, keccak256(abi.encode(id)), keccak256("out"), uint32(outTok % (job.maxOutputTokens + 1))) {} catch {}
        // Disputes can open from the next block on (the audit draw must be known first).
        vm.roll(block.number + 1);
    }

    /// @notice The prover declines (before publication, or within the decline window after it).
    function decline(uint256 jobSeed) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        vm.prank(escrow.getJob(id).prover);
        try escrow.declineJob(id) {
            ++timesSettled[id];
        } catch {}
    }

    function finalize(uint256 jobSeed) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        IJobEscrow.Job memory before = escrow.getJob(id);
        try escrow.finalize(id) {
            _recordSettlement(id, before);
        } catch {}
    }

    function finalizeMany(uint256 seedA, uint256 seedB) external {
        ++calls;
        if (jobIds.length == 0) return;
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (_job(seedA), _job(seedB), _job(seedA ^ seedB));
        IJobEscrow.Job[] memory before = new IJobEscrow.Job[](3);
        for (uint256 i; i < 3; ++i) before[i] = escrow.getJob(ids[i]);
        escrow.finalizeMany(ids);
        for (uint256 i; i < 3; ++i) {
            // Count a settlement once even when the same id appears twice in the batch.
            bool seen = i > 0 && (ids[i] == ids[0] || (i == 2 && ids[i] == ids[1]));
            if (!seen && escrow.getJob(ids[i]).status == IJobEscrow.JobStatus.Finalized
                && before[i].status != IJobEscrow.JobStatus.Finalized) {
                _recordSettlement(ids[i], before[i]);
            }
        }
    }

    function publishPrompt(uint256 jobSeed) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        vm.prank(escrow.getJob(id).client);
        try escrow.publishPrompt(id, prompts[id]) {} catch {}
    }

    function refundExpired(uint256 jobSeed) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        try escrow.refundExpired(id) {
            ++timesSettled[id];
        } catch {}
    }

    function openDispute(uint256 jobSeed, uint256 challengerSeed) external {
        ++calls;
        uint256 id = _job(jobSeed);
        if (id == 0) return;
        address challenger = _pick(clients, challengerSeed);
        try escrow.onDisputeOpened(id, challenger) returns (uint32 seq) {
            _openSeqs[id].push(seq);
            _openChallengers[id].push(challenger);
        } catch {}
    }

    function resolveDispute(uint256 jobSeed, bool fault, uint256 which) external {
        ++calls;
        uint256 id = _job(jobSeed);
        uint256 n = _openSeqs[id].length;
        if (id == 0 || n == 0) return;
        uint256 i = which % n;
        uint32 seq = _openSeqs[id][i];
        address challenger = _openChallengers[id][i];
        IJobEscrow.Job memory before = escrow.getJob(id);
        escrow.onDisputeResolved(id, seq, fault, challenger);
        if (before.status == IJobEscrow.JobStatus.Committed && fault) ++timesSettled[id];
        _openSeqs[id][i] = _openSeqs[id][n - 1];
        _openSeqs[id].pop();
        _openChallengers[id][i] = _openChallengers[id][n - 1];
        _openChallengers[id].pop();
    }

    function withdraw(uint256 actorSeed, bool prover) external {
        ++calls;
        address who = prover ? _pick(provers, actorSeed) : _pick(clients, actorSeed);
        vm.prank(who);
        try escrow.withdraw() {} catch {}
        vm.prank(who);
        try nodes.withdrawCredits() {} catch {}
    }

    function unbond(uint256 proverSeed, uint128 amount) external {
        ++calls;
        address prover = _pick(provers, proverSeed);
        vm.prank(prover);
        try nodes.requestUnbond(uint128(1 + amount % 50e18)) {} catch {}
    }

    function withdrawUnbonded(uint256 proverSeed) external {
        ++calls;
        vm.prank(_pick(provers, proverSeed));
        try nodes.withdrawUnbonded() {} catch {}
    }

    function topUp(uint256 proverSeed, uint128 amount) external {
        ++calls;
        address prover = _pick(provers, proverSeed);
        amount = uint128(1 + amount % 100e18);
        IMintable(address(token)).mint(prover, amount);
        vm.startPrank(prover);
        token.approve(address(nodes), amount);
        try nodes.topUp(amount) {} catch {}
        vm.stopPrank();
    }

    function warp(uint32 seconds_) external {
        ++calls;
        vm.warp(block.timestamp + seconds_ % 5000);
    }

    function _recordSettlement(uint256 id, IJobEscrow.Job memory before) private {
        ++timesSettled[id];
        // A payout is legal only for a committed job, after its window, with no open dispute.
        if (before.status != IJobEscrow.JobStatus.Committed || before.openDisputes != 0 || block.timestamp <= before.challengeDeadline) {
            ++violations;
        }
    }
}
