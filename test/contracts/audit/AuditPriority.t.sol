// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Auditor priority (PROTOCOL §9.1, §9.5): while a job is Assigned and its audit deadline
/// has not passed, only the auditor may open a step dispute or an availability challenge, so a
/// prover's sybil can never hold the earliest dispute of an audited job. This test contract is
/// the step-dispute game; `availabilityGame` plays the trace-availability game.
contract AuditPriorityTest is AuditFixture {
    address availabilityGame = address(0xA7A1);
    address sybil = address(0x5B11);

    function setUp() public {
        setUpAudits();
        escrow.setAvailabilityGame(availabilityGame);
    }

    function priorityError(uint256 jobId) internal view returns (bytes memory) {
        return abi.encodeWithSelector(AuditManager.AuditorPriority.selector, jobId, auditor, audits.getAudit(jobId).deadline);
    }

    function test_priority_onlyTheAuditorUntilTheDeadlineInclusive() public {
        uint256 jobId = openAuditedJob();
        uint64 deadline = audits.getAudit(jobId).deadline;
        assertEq(deadline, block.timestamp + 1_800, "deadline = commit + auditPeriod");

        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);
        vm.prank(availabilityGame);
        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);

        vm.warp(deadline);
        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);
        assertEq(escrow.getJob(jobId).openDisputes, 0, "nothing opened");
    }

    function test_priority_anyoneAfterTheDeadline() public {
        uint256 jobId = openAuditedJob();
        vm.warp(audits.getAudit(jobId).deadline + 1);
        assertEq(escrow.onDisputeOpened(jobId, sybil), 1, "volunteer's dispute opens");
        vm.prank(availabilityGame);
        assertEq(escrow.onDisputeOpened(jobId, challenger), 2, "and an availability challenge");
        assertState(jobId, AuditManager.AuditState.Assigned, "a volunteer does not answer the assignment");
    }

    /// The audit deadline is capped by the challenge deadline (a short window leaves volunteers
    /// no time otherwise they would never get).
    function test_priority_deadlineCappedByTheChallengeDeadline() public {
        IJobEscrow.Job memory before;
        AuditManager.Params memory p = audits.params();
        p.auditPeriod = 7_200; // longer than the 3,600 s challenge window
        p.leaveDelay = p.auditPeriod + p.vestDelay;
        audits.setParams(p);
        uint256 jobId = openAuditedJob();
        before = escrow.getJob(jobId);
        assertEq(audits.getAudit(jobId).deadline, before.challengeDeadline, "deadline = challenge deadline");
    }

    function test_priority_auditorsStepDisputeMarksDisputedAndLiftsPriority() public {
        uint256 jobId = openAuditedJob();
        vm.expectEmit(true, true, false, true);
        emit AuditManager.AuditDisputed(jobId, auditor);
        assertEq(escrow.onDisputeOpened(jobId, auditor), 1, "the auditor's dispute is the earliest");
        assertState(jobId, AuditManager.AuditState.Disputed, "disputed");
        // Answered: volunteers may pile on at once, behind the auditor.
        assertEq(escrow.onDisputeOpened(jobId, sybil), 2, "second");
    }

    /// An availability challenge by the auditor keeps the assignment open: it may still report
    /// (e.g. after forcing the rows it needs) and others still wait.
    function test_priority_auditorsAvailabilityChallengeKeepsTheAssignment() public {
        uint256 jobId = openAuditedJob();
        fundPool(1e18);
        vm.prank(availabilityGame);
        assertEq(escrow.onDisputeOpened(jobId, auditor), 1, "opened");
        assertState(jobId, AuditManager.AuditState.Assigned, "still assigned");
        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);
        report(auditor, jobId);
        assertState(jobId, AuditManager.AuditState.Agreed, "reported after its challenge");
    }

    /// Opening a dispute fixes a pending draw first, so priority applies from the first block
    /// the seed exists in.
    function test_priority_openingFixesThePendingDraw() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "pending"));
        assertState(jobId, AuditManager.AuditState.Pending, "not fixed yet");
        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);
        escrow.onDisputeOpened(jobId, auditor);
        assertState(jobId, AuditManager.AuditState.Disputed, "fixed and disputed in one call");
    }

    function test_priority_noneOnUnauditedJobs() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("unaudited", i));
            if (!auditedBy(seedOf(h, jobId), 1_000)) break;
        }
        revealSeed(seedBlock, h);
        assertEq(escrow.onDisputeOpened(jobId, sybil), 1, "anyone, at once");
        assertState(jobId, AuditManager.AuditState.Unaudited, "fixed by the opening");
    }

    /// §9.5 end to end: the sybil is refused in the commit block and during the audit period;
    /// the auditor's dispute is the earliest; the sybil's later dispute resolves first with a
    /// fault; the reward still goes to the auditor once every dispute has closed.
    function test_priority_sybilCannotCaptureTheRewardOfAnAuditedJob() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.DrawNotReady.selector, jobId, seedBlock));
        escrow.onDisputeOpened(jobId, sybil);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "sybil"));
        vm.expectRevert(priorityError(jobId));
        escrow.onDisputeOpened(jobId, sybil);

        uint32 honest = escrow.onDisputeOpened(jobId, auditor);
        uint32 late = escrow.onDisputeOpened(jobId, sybil);
        escrow.onDisputeResolved(jobId, late, true, sybil);
        uint256 reward = escrow.slashReward(jobId).held;
        assertTrue(reward > 0, "reward held");
        escrow.onDisputeResolved(jobId, honest, false, auditor); // closed after the slash
        assertEq(nodes.credits(sybil), 0, "sybil gets nothing");
        assertEq(nodes.credits(auditor), reward, "the auditor's earlier dispute is paid");
        assertSolvent();
    }
}
