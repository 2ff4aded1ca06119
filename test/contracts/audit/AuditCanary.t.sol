// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";

/// @notice Canaries (PROTOCOL §9.3): the canary role commits to a canary prover before its job's
/// result is committed; the prover revealing the job before the pay of an Agreed report vests
/// slashes the auditor's bond and `lazySlashBps` of its remaining stake to the treasury and ejects
/// it for good. Here the fixture's `prover` plays the canary prover.
contract AuditCanaryTest is AuditFixture {
    bytes32 constant MODEL2 = keccak256("second-model");
    address canary = address(0xCA7);
    bytes32 constant SALT = keccak256("canary salt");

    function setUp() public {
        setUpAudits();
        audits.grantRole(audits.CANARY_ROLE(), canary);
        registerModel(MODEL2);
        vm.prank(auditor);
        audits.joinPool(MODEL2);
        // Give the auditor stake beyond its bond: 10 bond + 14 free + 6 unbonding.
        fund(auditor, 20e18);
        vm.startPrank(auditor);
        nodes.topUp(20e18);
        nodes.requestUnbond(6e18);
        vm.stopPrank();
        vm.roll(block.number + 1);
    }

    function commitment(address canaryProver, bytes32 salt) internal pure returns (bytes32) {
        return keccak256(abi.encode(canaryProver, salt));
    }

    /// The canary prover reveals its job.
    function expose(uint256 jobId, bytes32 salt) internal {
        vm.prank(prover);
        audits.exposeCanary(jobId, salt);
    }

    /// Open a job, commit to its prover as a canary (once) a block before its result, and have the
    /// auditor agree with it (the lazy path).
    function agreedCanary() internal returns (uint256 jobId) {
        jobId = openStandard();
        if (audits.canaryCommittedAt(commitment(prover, SALT)) == 0) {
            vm.prank(canary);
            audits.commitCanary(commitment(prover, SALT));
        }
        vm.roll(block.number + 1);
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "canary"));
        report(auditor, jobId);
    }

    function test_commitCanary_onlyTheCanaryRole_oncePerCommitment() public {
        bytes32 c = commitment(prover, SALT);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, challenger, audits.CANARY_ROLE())
        );
        vm.prank(challenger);
        audits.commitCanary(c);

        vm.expectEmit(true, false, false, true);
        emit AuditManager.CanaryCommitted(c);
        vm.prank(canary);
        audits.commitCanary(c);
        assertEq(audits.canaryCommittedAt(c), block.number, "block recorded");

        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.CanaryAlreadyCommitted.selector, c));
        vm.prank(canary);
        audits.commitCanary(c);
    }

    /// The lazy auditor loses bond + half (lazySlashBps = 5,000 here) of its free and unbonding
    /// stake to the treasury, leaves every pool, forfeits unclaimed pay and can neither rejoin
    /// nor claim.
    function test_exposeCanary_slashesEjectsAndForfeitsALazyAuditor() public {
        AuditManager.Params memory p = audits.params();
        p.lazySlashBps = 5_000;
        audits.setParams(p);
        fundPool(10e18);
        uint256 earlier = openAuditedJob();
        report(auditor, earlier); // honest-looking pay, vested but unclaimed
        vm.warp(block.timestamp + 1 days);
        uint256 jobId = agreedCanary();
        uint256 forfeited = audits.getAudit(earlier).pay + audits.getAudit(jobId).pay;
        assertEq(audits.reserved(), forfeited, "both reserved");
        assertEq(audits.activeMembers(MODEL2), 1, "in the second pool");

        uint256 slashed = 10e18 + 7e18 + 3e18;
        vm.expectEmit(true, false, false, true);
        emit AuditManager.AuditorEjected(auditor, forfeited, true);
        vm.expectEmit(true, true, false, true);
        emit AuditManager.CanaryExposed(jobId, auditor, true, slashed);
        // Only the job's own prover may reveal it, even with the salt: the canary role cannot
        // turn other provers' jobs into canaries.
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotACanary.selector, jobId));
        vm.prank(challenger);
        audits.exposeCanary(jobId, SALT);
        expose(jobId, SALT);

        INodeRegistry.Node memory n = nodes.getNode(auditor);
        assertEq(n.stake, 7e18, "bond and half the free stake gone");
        assertEq(n.locked, 0, "bond unlocked by the slash");
        assertEq(n.unbonding, 3e18, "half the unbonding stake gone");
        assertEq(nodes.credits(treasury), slashed, "to the treasury");
        assertEq(nodes.credits(address(audits)), 0, "the manager keeps nothing");
        AuditManager.Auditor memory a = audits.getAuditor(auditor);
        assertEq(a.bond, 0, "bond taken");
        assertEq(a.ejectedBlock, block.number, "ejected");
        assertEq(a.unclaimed, 0, "unclaimed pay forfeited");
        assertEq(audits.reserved(), 0, "reservation returned to the pool");
        assertEq(escrow.auditPool(), 10e18, "pool intact");
        assertEq(audits.modelsOf(auditor).length, 0, "out of every pool");
        assertEq(audits.activeMembers(MODEL) + audits.activeMembers(MODEL2), 0, "both pools empty");
        assertTrue(audits.getAudit(jobId).canary, "marked");
        assertSolvent();

        vm.expectRevert(abi.encodeWithSelector(AuditManager.Ejected.selector, auditor));
        vm.prank(auditor);
        audits.joinPool(MODEL);
        uint256[] memory ids = new uint256[](1);
        ids[0] = earlier;
        vm.expectRevert(abi.encodeWithSelector(AuditManager.Ejected.selector, auditor));
        vm.prank(auditor);
        audits.claimAuditPay(ids);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NothingToRelease.selector, auditor));
        vm.prank(auditor);
        audits.releaseBond();
    }

    /// With the default lazySlashBps of 100% the first canary takes all of the lazy auditor's
    /// stake, unbonding included.
    function test_exposeCanary_defaultsTakeTheWholeStake() public {
        uint256 jobId = agreedCanary();
        expose(jobId, SALT);
        INodeRegistry.Node memory n = nodes.getNode(auditor);
        assertEq(n.stake + n.unbonding, 0, "nothing left");
        assertEq(nodes.credits(treasury), 30e18, "all of it to the treasury");
        assertSolvent();
    }

    /// A commitment made in the seed block or later could be chosen after seeing the draw.
    function test_exposeCanary_commitmentAtOrAfterTheSeedBlockIsNotACanary() public {
        uint256 atSeed = openStandard();
        uint256 afterSeed = openStandard();
        vm.prank(canary);
        audits.commitCanary(commitment(prover, SALT)); // same block as the commit below
        uint256 seedBlock = commitTraced(atSeed, OUT_TOK);
        commitTraced(afterSeed, OUT_TOK);
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("late canary", i));
            if (auditedBy(seedOf(h, atSeed), 1_000) && auditedBy(seedOf(h, afterSeed), 1_000)) break;
        }
        revealSeed(seedBlock, h);
        report(auditor, atSeed);
        report(auditor, afterSeed);

        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotACanary.selector, atSeed));
        expose(atSeed, SALT);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotACanary.selector, afterSeed));
        expose(afterSeed, SALT);
        assertEq(nodes.getNode(auditor).stake, 24e18, "untouched");
    }

    function test_exposeCanary_wrongSaltOrUncommittedJobIsNotACanary() public {
        uint256 jobId = agreedCanary();
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotACanary.selector, jobId));
        expose(jobId, keccak256("other salt"));

        // Committed to in advance, but the job has no result yet: nothing to expose.
        uint256 open = openStandard();
        vm.roll(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NotACanary.selector, open));
        expose(open, SALT);
    }

    function test_exposeCanary_onlyOnce() public {
        uint256 jobId = agreedCanary();
        expose(jobId, SALT);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.CanaryAlreadyExposed.selector, jobId));
        expose(jobId, SALT);
    }

    /// From the second the pay vests the report is final: exposing then changes nothing for the
    /// auditor, which can still claim.
    function test_exposeCanary_atVestingLeavesTheAuditorAlone() public {
        fundPool(10e18);
        uint256 jobId = agreedCanary();
        vm.warp(audits.getAudit(jobId).vestsAt);
        vm.expectEmit(true, true, false, true);
        emit AuditManager.CanaryExposed(jobId, auditor, false, 0);
        expose(jobId, SALT);
        assertEq(nodes.getNode(auditor).stake, 24e18, "stake intact");
        assertEq(audits.getAuditor(auditor).ejectedBlock, 0, "not ejected");
        uint256[] memory ids = new uint256[](1);
        ids[0] = jobId;
        vm.prank(auditor);
        assertEq(audits.claimAuditPay(ids), audits.getAudit(jobId).pay, "claims");
    }

    /// One second before vesting the same exposure slashes.
    function test_exposeCanary_aSecondBeforeVestingSlashes() public {
        uint256 jobId = agreedCanary();
        vm.warp(audits.getAudit(jobId).vestsAt - 1);
        expose(jobId, SALT);
        assertTrue(audits.getAuditor(auditor).ejectedBlock != 0, "ejected");
    }

    /// An auditor that found the corruption and disputed is not punished.
    function test_exposeCanary_honestlyDisputedCanaryDoesNothing() public {
        uint256 jobId = openStandard();
        vm.prank(canary);
        audits.commitCanary(commitment(prover, SALT));
        vm.roll(block.number + 1);
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "honest"));
        escrow.onDisputeOpened(jobId, auditor); // this test contract is the step game
        assertState(jobId, AuditManager.AuditState.Disputed, "disputed");
        vm.expectEmit(true, true, false, true);
        emit AuditManager.CanaryExposed(jobId, auditor, false, 0);
        expose(jobId, SALT);
        assertEq(nodes.getNode(auditor).stake, 24e18, "stake intact");
        assertEq(audits.getAuditor(auditor).ejectedBlock, 0, "still in the pools");
        assertEq(audits.modelsOf(auditor).length, 2, "both pools");
    }
}
