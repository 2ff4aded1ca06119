// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {TraceTree} from "../utils/TraceTree.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {CommitmentLeaf} from "../../../contracts/libraries/CommitmentLeaf.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Audit reports and pay (PROTOCOL §9.1 answers, §9.2): the assigned auditor agrees by
/// its deadline with the probe leaf of the committed trace; the report reserves
/// cost·auditFee/rate from the audit pool (capped by what is unreserved), which vests and is
/// then credited by the escrow.
contract AuditPayTest is AuditFixture {
    address availabilityGame = address(0xA7A1);

    function setUp() public {
        setUpAudits();
        escrow.setAvailabilityGame(availabilityGame);
    }

    // ------------------------------------------------------------------ reportAudit

    function test_report_agreesReservesPayAndStartsVesting() public {
        fundPool(10e18);
        uint256 jobId = openAuditedJob();
        uint256 pay = uncappedPay(jobId);
        uint256 cost = uint256(IN_TOK) * IN_PRICE + uint256(OUT_TOK) * OUT_PRICE;
        assertEq(pay, cost * 500 / 1_000, "cost * auditFee / rate = half the cost at 5% / 10%");
        vm.expectEmit(true, true, false, true);
        emit AuditManager.AuditReported(jobId, auditor, pay, uint40(block.timestamp + 1 days));
        report(auditor, jobId);

        AuditManager.Audit memory a = audits.getAudit(jobId);
        assertEq(uint256(a.state), uint256(AuditManager.AuditState.Agreed), "agreed");
        assertEq(a.pay, pay, "pay");
        assertEq(a.vestsAt, block.timestamp + 1 days, "vests after vestDelay");
        assertEq(audits.reserved(), pay, "reserved");
        assertEq(audits.getAuditor(auditor).unclaimed, pay, "unclaimed");
        assertEq(escrow.auditPool(), 10e18, "nothing paid yet");
    }

    function test_report_revertsForAnyoneButTheAuditor() public {
        uint256 jobId = openAuditedJob();
        (bytes memory chunk, bytes32[] memory proof) = probeOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotAuditor.selector, jobId, challenger));
        vm.prank(challenger);
        audits.reportAudit(jobId, chunk, proof);
    }

    function test_report_inTimeAtTheDeadlineLateAfterIt() public {
        uint256 onTime = openAuditedJob();
        uint256 late = openAuditedJob();
        uint64 deadline = audits.getAudit(late).deadline;
        vm.warp(audits.getAudit(onTime).deadline);
        report(auditor, onTime);
        vm.warp(deadline + 1);
        (bytes memory chunk, bytes32[] memory proof) = probeOf(late);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.AuditDeadlinePassed.selector, late, deadline));
        vm.prank(auditor);
        audits.reportAudit(late, chunk, proof);
    }

    /// Reports `chunk`/`proof` as the auditor and expects the probe check to refuse them.
    function expectProbeRefused(uint256 jobId, bytes memory chunk, bytes32[] memory proof) internal {
        AuditManager.Assignment memory s = audits.assignment(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(
                CommitmentLeaf.InvalidChunkProof.selector,
                CommitmentLeaf.TRACE_DOMAIN,
                uint256(s.probeBoundary),
                uint256(s.probeRow),
                uint256(s.probeChunk)
            )
        );
        vm.prank(auditor);
        audits.reportAudit(jobId, chunk, proof);
    }

    function test_report_revertsOnWrongChunkBytes() public {
        uint256 jobId = openAuditedJob();
        (bytes memory chunk, bytes32[] memory proof) = probeOf(jobId);
        expectProbeRefused(jobId, bytes.concat(chunk, hex"00"), proof);
        report(auditor, jobId); // the real probe passes
    }

    function test_report_revertsOnTruncatedProof() public {
        uint256 jobId = openAuditedJob();
        (bytes memory chunk, bytes32[] memory proof) = probeOf(jobId);
        bytes32[] memory truncated = new bytes32[](proof.length - 1);
        for (uint256 i; i < truncated.length; ++i) truncated[i] = proof[i];
        expectProbeRefused(jobId, chunk, truncated);
    }

    /// A genuine leaf of the committed trace that is not the drawn probe (the neighbouring
    /// boundary's) does not count: the coordinates come from the seed.
    function test_report_revertsOnAnotherLeafOfTheTrace() public {
        uint256 jobId = openAuditedJob();
        AuditManager.Assignment memory s = audits.assignment(jobId);
        TraceTree.Shape memory shape = shapeOf(MODEL, IN_TOK + OUT_TOK);
        uint256 otherLayer = s.probeBoundary == 0 ? 1 : s.probeBoundary - 1;
        bytes32[] memory leaves = TraceTree.leaves(traceSalt(jobId), shape);
        expectProbeRefused(
            jobId,
            TraceTree.chunkBytes(traceSalt(jobId), otherLayer, s.probeRow, s.probeChunk),
            TraceTree.proof(leaves, TraceTree.hiddenIndex(shape, otherLayer, s.probeRow, s.probeChunk))
        );
    }

    /// The right coordinates in a trace the auditor made up are refused: the root is the job's.
    function test_report_revertsOnAProofFromAnotherTrace() public {
        uint256 jobId = openAuditedJob();
        AuditManager.Assignment memory s = audits.assignment(jobId);
        TraceTree.Shape memory shape = shapeOf(MODEL, IN_TOK + OUT_TOK);
        bytes32 madeUp = keccak256("made up");
        bytes32[] memory leaves = TraceTree.leaves(madeUp, shape);
        expectProbeRefused(
            jobId,
            TraceTree.chunkBytes(madeUp, s.probeBoundary, s.probeRow, s.probeChunk),
            TraceTree.proof(leaves, TraceTree.hiddenIndex(shape, s.probeBoundary, s.probeRow, s.probeChunk))
        );
    }

    function test_report_revertsUnlessAssigned() public {
        // Unaudited.
        uint256 unaudited = openStandard();
        uint256 seedBlock = commitTraced(unaudited, OUT_TOK);
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("no audit", i));
            if (!auditedBy(seedOf(h, unaudited), 1_000)) break;
        }
        revealSeed(seedBlock, h);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, unaudited, AuditManager.AuditState.Unaudited));
        vm.prank(auditor);
        audits.reportAudit(unaudited, "", new bytes32[](0));

        // Already agreed.
        uint256 agreed = openAuditedJob();
        report(auditor, agreed);
        (bytes memory chunk, bytes32[] memory proof) = probeOf(agreed);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, agreed, AuditManager.AuditState.Agreed));
        vm.prank(auditor);
        audits.reportAudit(agreed, chunk, proof);

        // Disputed: agreeing after proving fraud is refused.
        uint256 disputed = openAuditedJob();
        escrow.onDisputeOpened(disputed, auditor);
        (chunk, proof) = probeOf(disputed);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, disputed, AuditManager.AuditState.Disputed));
        vm.prank(auditor);
        audits.reportAudit(disputed, chunk, proof);
    }

    /// A job slashed on the auditor's own availability challenge cannot be agreed with.
    function test_report_revertsOnceTheJobIsNoLongerCommitted() public {
        uint256 jobId = openAuditedJob();
        vm.prank(availabilityGame);
        uint32 seq = escrow.onDisputeOpened(jobId, auditor);
        vm.prank(availabilityGame);
        escrow.onDisputeResolved(jobId, seq, true, auditor); // the prover did not answer
        (bytes memory chunk, bytes32[] memory proof) = probeOf(jobId);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.JobNotCommitted.selector, jobId));
        vm.prank(auditor);
        audits.reportAudit(jobId, chunk, proof);
    }

    // ------------------------------------------------------------------ pay

    /// Pay is capped by the pool less what is already reserved: reserved never exceeds the pool.
    function test_pay_cappedByTheUnreservedPool() public {
        uint256 a = openAuditedJob();
        uint256 full = uncappedPay(a);
        fundPool(full + full / 2);
        uint256 b = openAuditedJob();
        uint256 c = openAuditedJob();
        report(auditor, a);
        report(auditor, b);
        report(auditor, c);
        assertEq(audits.getAudit(a).pay, full, "first in full");
        assertEq(audits.getAudit(b).pay, full / 2, "second gets the rest");
        assertEq(audits.getAudit(c).pay, 0, "third: pool fully reserved");
        assertEq(audits.reserved(), escrow.auditPool(), "reserved = pool");
        assertState(c, AuditManager.AuditState.Agreed, "still an agreement");
    }

    function testFuzz_pay_isCostTimesFeeOverRateCappedByThePool(uint16 rate, uint32 outTok, uint128 pool, uint128 reservedFirst)
        public
    {
        rate = uint16(bound(rate, 1, 10_000));
        outTok = uint32(bound(outTok, 1, MAX_OUT));
        pool = uint128(bound(pool, 0, 1e18));
        audits.setModelAuditRate(MODEL, rate);
        if (pool > 0) fundPool(pool);
        // Another report reserves part of the pool first (or not).
        if (reservedFirst % 2 == 1) report(auditor, openAuditedJob());
        uint256 alreadyReserved = audits.reserved();

        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, outTok);
        revealSeed(seedBlock, hashAuditing(jobId, rate, "fuzz"));
        report(auditor, jobId);
        uint256 cost = uint256(IN_TOK) * IN_PRICE + uint256(outTok) * OUT_PRICE;
        uint256 expected = cost * 500 / rate;
        uint256 available = pool - alreadyReserved;
        if (expected > available) expected = available;
        assertEq(audits.getAudit(jobId).pay, expected, "pay");
        assertLe(audits.reserved(), escrow.auditPool(), "reserved <= pool");
    }

    function test_claim_vestsThenCreditsFromThePool() public {
        fundPool(10e18);
        uint256 jobId = openAuditedJob();
        report(auditor, jobId);
        uint256 pay = audits.getAudit(jobId).pay;
        uint40 vestsAt = audits.getAudit(jobId).vestsAt;
        uint256[] memory ids = new uint256[](1);
        ids[0] = jobId;

        vm.warp(vestsAt - 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotVested.selector, jobId, vestsAt));
        vm.prank(auditor);
        audits.claimAuditPay(ids);

        vm.warp(vestsAt);
        vm.expectEmit(true, false, false, true);
        emit JobEscrow.AuditPaid(auditor, pay, 10e18 - pay);
        vm.prank(auditor);
        assertEq(audits.claimAuditPay(ids), pay, "claimed");
        assertEq(escrow.credits(auditor), pay, "credited by the escrow");
        assertEq(escrow.auditPool(), 10e18 - pay, "paid from the pool");
        assertEq(audits.reserved(), 0, "reservation released");
        assertEq(audits.getAuditor(auditor).unclaimed, 0, "nothing unclaimed");
        assertState(jobId, AuditManager.AuditState.Paid, "paid");
        assertSolvent();

        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, jobId, AuditManager.AuditState.Paid));
        vm.prank(auditor);
        audits.claimAuditPay(ids);

        vm.prank(auditor);
        escrow.withdraw();
        assertEq(token.balanceOf(auditor), pay, "withdrawn");
        assertSolvent();
    }

    function test_claim_batchAndItsGuards() public {
        fundPool(10e18);
        uint256 a = openAuditedJob();
        uint256 b = openAuditedJob();
        uint256 unreported = openAuditedJob();
        report(auditor, a);
        report(auditor, b);
        vm.warp(block.timestamp + 1 days);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);

        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotAuditor.selector, a, challenger));
        vm.prank(challenger);
        audits.claimAuditPay(ids);

        uint256[] memory withUnreported = new uint256[](3);
        (withUnreported[0], withUnreported[1], withUnreported[2]) = (a, b, unreported);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, unreported, AuditManager.AuditState.Assigned));
        vm.prank(auditor);
        audits.claimAuditPay(withUnreported);

        uint256[] memory twice = new uint256[](2);
        (twice[0], twice[1]) = (a, a);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.WrongAuditState.selector, a, AuditManager.AuditState.Paid));
        vm.prank(auditor);
        audits.claimAuditPay(twice);

        vm.prank(auditor);
        uint256 total = audits.claimAuditPay(ids);
        assertEq(total, audits.getAudit(a).pay + audits.getAudit(b).pay, "sum of both");
        assertEq(escrow.credits(auditor), total, "credited");
        assertSolvent();
    }

    /// Settlement funds the pool: the audit fee of a finalized job pays a later audit.
    function test_pool_fundedBySettlementAndByAnyone() public {
        uint256 settled = openStandard();
        commitTraced(settled, OUT_TOK);
        vm.roll(block.number + 1);
        vm.warp(block.timestamp + 3_601);
        escrow.finalize(settled);
        uint256 cost = uint256(IN_TOK) * IN_PRICE + uint256(OUT_TOK) * OUT_PRICE;
        assertEq(escrow.auditPool(), cost * 500 / BPS, "the audit fee");

        fund(funder, 1e18);
        vm.expectEmit(true, false, false, true);
        emit JobEscrow.AuditPoolFunded(funder, 1e18, cost * 500 / BPS + 1e18);
        vm.prank(funder);
        escrow.fundAuditPool(1e18);
        assertEq(token.balanceOf(funder), 0, "pulled");
        assertSolvent();

        uint256 jobId = openAuditedJob();
        report(auditor, jobId);
        assertEq(audits.getAudit(jobId).pay, uncappedPay(jobId), "paid in full from fees and funding");
    }

    function test_payFromAuditPool_onlyTheAuditManager() public {
        fundPool(1e18);
        vm.expectRevert(abi.encodeWithSignature("NotAuditManager(address)", address(this)));
        escrow.payFromAuditPool(address(this), 1);
    }
}
