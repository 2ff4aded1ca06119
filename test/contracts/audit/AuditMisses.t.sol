// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Unanswered assignments (PROTOCOL §9.2): an assignment neither reported nor disputed by
/// its deadline is Missed (recordMiss by anyone, or settlement); `maxMisses` in a row eject the
/// auditor and forfeit its unclaimed pay; a report or a dispute resets the count.
contract AuditMissesTest is AuditFixture {
    function setUp() public {
        setUpAudits();
    }

    function pastDeadline(uint256 jobId) internal {
        vm.warp(audits.getAudit(jobId).deadline + 1);
    }

    function test_recordMiss_onlyAfterTheDeadline() public {
        uint256 jobId = openAuditedJob();
        uint64 deadline = audits.getAudit(jobId).deadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.AuditDeadlineNotPassed.selector, jobId, deadline));
        audits.recordMiss(jobId);

        vm.warp(deadline + 1);
        vm.expectEmit(true, true, false, true);
        emit AuditManager.AuditMissed(jobId, auditor, 1);
        audits.recordMiss(jobId);
        assertState(jobId, AuditManager.AuditState.Missed, "missed");
        assertEq(audits.getAuditor(auditor).misses, 1, "counted");

        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, jobId, AuditManager.AuditState.Missed));
        audits.recordMiss(jobId);
    }

    function test_recordMiss_revertsUnlessAssigned() public {
        uint256 jobId = openStandard();
        commitTraced(jobId, OUT_TOK);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, jobId, AuditManager.AuditState.Pending));
        audits.recordMiss(jobId); // commit block: nothing drawn yet

        uint256 agreed = openAuditedJob();
        report(auditor, agreed);
        pastDeadline(agreed);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, agreed, AuditManager.AuditState.Agreed));
        audits.recordMiss(agreed);
    }

    /// A draw nobody fixed is fixed by recordMiss, so a silent auditor cannot avoid the count by
    /// never fixing its own draws.
    function test_recordMiss_fixesAPendingDraw() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "unfixed"));
        assertState(jobId, AuditManager.AuditState.Pending, "unfixed");
        pastDeadline(jobId);
        audits.recordMiss(jobId);
        assertState(jobId, AuditManager.AuditState.Missed, "fixed and missed");
    }

    /// Settlement records the miss (and fixes an unfixed draw first).
    function test_finalize_recordsTheMiss() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "settle"));
        vm.warp(escrow.getJob(jobId).challengeDeadline + 1);
        vm.expectEmit(true, true, false, true);
        emit AuditManager.AuditMissed(jobId, auditor, 1);
        escrow.finalize(jobId);
        assertState(jobId, AuditManager.AuditState.Missed, "missed at settlement");
        assertEq(audits.getAuditor(auditor).misses, 1, "counted");
        assertSolvent();
    }

    /// Three misses in a row: ejected from every pool, unclaimed pay (vested or not) returned to
    /// the pool, no rejoining, no claiming; the unslashed bond unlocks after leaveDelay.
    function test_misses_ejectAfterMaxMissesInARow() public {
        fundPool(10e18);
        uint256 paid = openAuditedJob();
        report(auditor, paid);
        uint256 forfeited = audits.getAudit(paid).pay;
        uint256[] memory jobs = new uint256[](3);
        for (uint256 i; i < 3; ++i) jobs[i] = openAuditedJob();
        pastDeadline(jobs[2]);
        audits.recordMiss(jobs[0]);
        audits.recordMiss(jobs[1]);
        assertEq(audits.getAuditor(auditor).ejectedBlock, 0, "two misses: still in");
        vm.expectEmit(true, false, false, true);
        emit AuditManager.AuditorEjected(auditor, forfeited, false);
        audits.recordMiss(jobs[2]);

        AuditManager.Auditor memory a = audits.getAuditor(auditor);
        assertEq(a.ejectedBlock, block.number, "ejected");
        assertEq(a.unclaimed, 0, "forfeited");
        assertEq(a.releaseAfter, block.timestamp + 2 days, "bond unlocks after leaveDelay");
        assertEq(audits.reserved(), 0, "returned to the pool");
        assertEq(audits.activeMembers(MODEL), 0, "out of the pool");
        assertEq(nodes.getNode(auditor).stake, AUDIT_BOND, "a miss is not slashed");

        vm.expectRevert(abi.encodeWithSelector(AuditManager.Ejected.selector, auditor));
        vm.prank(auditor);
        audits.joinPool(MODEL);
        uint256[] memory ids = new uint256[](1);
        ids[0] = paid;
        vm.expectRevert(abi.encodeWithSelector(AuditManager.Ejected.selector, auditor));
        vm.prank(auditor);
        audits.claimAuditPay(ids);

        vm.expectRevert(abi.encodeWithSelector(AuditManager.BondLocked.selector, auditor, a.releaseAfter));
        vm.prank(auditor);
        audits.releaseBond();
        vm.warp(a.releaseAfter);
        vm.prank(auditor);
        audits.releaseBond();
        assertEq(nodes.getNode(auditor).locked, 0, "bond released");
    }

    /// miss, miss, report, miss, miss: never three in a row, so never ejected.
    function test_misses_resetByAReport() public {
        fundPool(10e18);
        uint256[] memory jobs = new uint256[](4);
        for (uint256 i; i < 4; ++i) jobs[i] = openAuditedJob();
        pastDeadline(jobs[3]);
        audits.recordMiss(jobs[0]);
        audits.recordMiss(jobs[1]);
        assertEq(audits.getAuditor(auditor).misses, 2, "two in a row");
        report(auditor, openAuditedJob());
        assertEq(audits.getAuditor(auditor).misses, 0, "reset by the report");
        audits.recordMiss(jobs[2]);
        audits.recordMiss(jobs[3]);
        assertEq(audits.getAuditor(auditor).misses, 2, "two in a row again");
        assertEq(audits.getAuditor(auditor).ejectedBlock, 0, "not ejected");
    }

    function test_misses_resetByAStepDispute() public {
        uint256[] memory jobs = new uint256[](2);
        for (uint256 i; i < 2; ++i) jobs[i] = openAuditedJob();
        pastDeadline(jobs[1]);
        audits.recordMiss(jobs[0]);
        audits.recordMiss(jobs[1]);
        uint256 disputed = openAuditedJob();
        escrow.onDisputeOpened(disputed, auditor);
        assertEq(audits.getAuditor(auditor).misses, 0, "reset by the dispute");
    }

    /// Bug (fixed): the miss counter is a uint8 and kept counting after ejection, so the 256th
    /// miss of one auditor overflowed and made `finalize` (which records misses and must never
    /// revert for the job's sake) revert for ever. An auditor gets that many assignments when it
    /// goes silent on a busy model: every draw seeded before its ejection is still its.
    function test_misses_beyond255NeverBlockSettlement() public {
        audits.setModelAuditRate(MODEL, 10_000);
        uint256 n = 257;
        uint256[] memory jobs = new uint256[](n);
        for (uint256 i; i < n; ++i) jobs[i] = openAs(prover, 1, 1);
        for (uint256 i; i < n; ++i) {
            vm.prank(prover);
            escrow.commitResult(jobs[i], keccak256(abi.encode("trace", i)), keccak256("output"), 1);
        }
        revealSeed(block.number, keccak256("busy"));
        vm.warp(escrow.getJob(jobs[n - 1]).challengeDeadline + 1);
        for (uint256 i; i < n; ++i) {
            assertEq(audits.getAudit(jobs[i]).auditor, address(0), "unfixed");
            escrow.finalize(jobs[i]); // fixes the draw (auditor: the only member) and records a miss
            assertState(jobs[i], AuditManager.AuditState.Missed, "missed");
        }
        assertEq(audits.getAuditor(auditor).misses, 255, "saturated");
        assertTrue(audits.getAuditor(auditor).ejectedBlock != 0, "ejected long ago");
        assertSolvent();
    }

    /// Bug (fixed): an auditor whose availability challenge went unanswered (the job is slashed,
    /// PROTOCOL §8.1) can no longer report or open a step dispute, and its assignment was then
    /// recorded as a miss — the honest finder counted as absent and, after two earlier misses,
    /// ejected with its unclaimed pay. The assignment now ends Disputed.
    function test_misses_availabilityChallengeThatSlashedIsNotAMiss() public {
        address availabilityGame = address(0xA7A1);
        escrow.setAvailabilityGame(availabilityGame);
        uint256[] memory earlier = new uint256[](2);
        for (uint256 i; i < 2; ++i) earlier[i] = openAuditedJob();
        uint256 jobId = openAuditedJob();
        pastDeadline(earlier[1]);
        audits.recordMiss(earlier[0]);
        audits.recordMiss(earlier[1]);

        vm.warp(audits.getAudit(jobId).deadline - 10);
        vm.prank(availabilityGame);
        uint32 seq = escrow.onDisputeOpened(jobId, auditor);
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, seq, true, auditor); // unanswered: the prover is slashed
        assertEq(uint256(escrow.getJob(jobId).status), uint256(IJobEscrow.JobStatus.Slashed), "slashed");

        pastDeadline(jobId);
        vm.expectEmit(true, true, false, true);
        emit AuditManager.AuditDisputed(jobId, auditor);
        audits.recordMiss(jobId);
        assertState(jobId, AuditManager.AuditState.Disputed, "answered by its challenge");
        assertEq(audits.getAuditor(auditor).misses, 0, "a proven fraud resets the count");
        assertEq(audits.getAuditor(auditor).ejectedBlock, 0, "not ejected");
    }

    /// The auditor forced the trace on-chain and the prover answered, at the last second: the
    /// auditor gets a full audit period from the answer to use the rows, keeping its priority,
    /// and the job stays open to disputes that long (adversary suite, withhold-from-auditor and
    /// withhold-then-sybil-first). Left unanswered after that, the assignment is excused — the
    /// prover did not serve it — with no pay and no strike (§9.2).
    function test_answeredAuditorChallenge_extendsTheDeadlineAndWindow_thenExcusesTheMiss() public {
        address availabilityGame = address(0xA7A1);
        escrow.setAvailabilityGame(availabilityGame);
        uint256 jobId = openAuditedJob();
        uint40 first = audits.getAudit(jobId).deadline;
        vm.prank(availabilityGame);
        uint32 seq = escrow.onDisputeOpened(jobId, auditor);
        uint64 window = escrow.getJob(jobId).challengeDeadline;
        vm.warp(window); // the prover answers at the last second of the challenge window
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, seq, false, auditor);
        uint40 extended = audits.getAudit(jobId).deadline;
        assertEq(extended, block.timestamp + audits.params().auditPeriod, "a full audit period from the answer");
        assertTrue(extended > first, "extended");
        assertEq(escrow.getJob(jobId).challengeDeadline, extended, "the job stays open to disputes");
        // Still the auditor's alone: a sybil cannot dispute first.
        vm.expectRevert(abi.encodeWithSelector(AuditManager.AuditorPriority.selector, jobId, auditor, uint64(extended)));
        escrow.onDisputeOpened(jobId, challenger);
        vm.warp(extended + 1);
        audits.recordMiss(jobId);
        assertState(jobId, AuditManager.AuditState.Missed, "missed");
        assertEq(audits.getAuditor(auditor).misses, 0, "excused: the prover did not serve it");
    }

    /// While the prover has not answered the rows the auditor forced, the auditor keeps its
    /// priority past its deadline and nothing counts as missed: answering after the deadline
    /// must not let the prover's sybil dispute first (withhold-then-sybil-first).
    function test_pendingAuditorChallenge_holdsPriorityPastTheDeadline() public {
        address availabilityGame = address(0xA7A1);
        escrow.setAvailabilityGame(availabilityGame);
        uint256 jobId = openAuditedJob();
        uint40 first = audits.getAudit(jobId).deadline;
        vm.prank(availabilityGame);
        uint32 seq = escrow.onDisputeOpened(jobId, auditor);
        vm.warp(first + 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.AuditorPriority.selector, jobId, auditor, uint64(first)));
        escrow.onDisputeOpened(jobId, challenger);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.AuditDeadlineNotPassed.selector, jobId, uint64(first)));
        audits.recordMiss(jobId);
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, seq, false, auditor); // answered: a full period from now
        assertEq(audits.getAudit(jobId).deadline, block.timestamp + audits.params().auditPeriod, "extended");
    }

    /// Only the auditor's challenges opened by its first deadline extend it: the extension is
    /// bounded by one answer window plus one audit period.
    function test_lateOrForeignChallengesDoNotExtend() public {
        address availabilityGame = address(0xA7A1);
        escrow.setAvailabilityGame(availabilityGame);
        uint256 jobId = openAuditedJob();
        uint40 first = audits.getAudit(jobId).deadline;
        vm.warp(first + 1);
        vm.prank(availabilityGame);
        uint32 late = escrow.onDisputeOpened(jobId, auditor);
        vm.prank(availabilityGame);
        uint32 foreign = escrow.onDisputeOpened(jobId, challenger);
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, late, false, auditor);
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, foreign, false, challenger);
        assertEq(audits.getAudit(jobId).deadline, first, "not extended");
    }

    /// Bug (fixed): an ejected auditor could still report on assignments drawn before its
    /// ejection and reserve pay it can never claim, locking that part of the pool for good.
    /// An ejected auditor's remaining assignments are void: it cannot report (so it reserves no
    /// pay it could never claim) and holds nobody back (§9.2).
    function test_ejectedAuditorsAssignmentsAreVoid() public {
        fundPool(10e18);
        uint256[] memory missed = new uint256[](3);
        for (uint256 i; i < 3; ++i) missed[i] = openAuditedJob();
        vm.warp(block.timestamp + 1_000);
        uint256 later = openAuditedJob(); // drawn before the ejection, deadline after it
        pastDeadline(missed[2]);
        for (uint256 i; i < 3; ++i) audits.recordMiss(missed[i]);
        assertTrue(audits.getAuditor(auditor).ejectedBlock != 0, "ejected");

        (bytes memory chunk, bytes32[] memory proof) = probeOf(later);
        vm.prank(auditor);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.Ejected.selector, auditor));
        audits.reportAudit(later, chunk, proof);
        assertEq(audits.reserved(), 0, "nothing reserved that nobody can claim");
        // Its priority is gone: anyone may open on the job before its deadline.
        escrow.onDisputeOpened(later, challenger);
    }
}
