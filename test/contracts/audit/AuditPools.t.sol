// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {AuditPools} from "../../../contracts/audit/AuditPools.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Verifier pools (PROTOCOL §9.1, §9.3): joining locks one audit bond for all pools,
/// pools and memberships are capped, a leaver stays drawable until it may be pruned 256 blocks
/// later, and the bond unlocks `leaveDelay` after leaving the last pool.
contract AuditPoolsTest is AuditFixture {
    bytes32 constant MODEL2 = keccak256("second-model");
    address v = address(0x7E41);

    function setUp() public {
        setUpAudits();
        registerModel(MODEL2);
        registerVerifier(v, 30e18);
    }

    function join(address who, bytes32 modelId) internal {
        vm.prank(who);
        audits.joinPool(modelId);
    }

    function leave(address who, bytes32 modelId) internal {
        vm.prank(who);
        audits.leavePool(modelId);
    }

    function test_joinPool_locksOneBondForEveryPool() public {
        vm.expectEmit(true, true, false, true);
        emit AuditPools.PoolJoined(MODEL, v, 2);
        join(v, MODEL);
        assertEq(nodes.getNode(v).locked, AUDIT_BOND, "bond locked");
        assertEq(audits.getAuditor(v).bond, AUDIT_BOND, "bond recorded");
        join(v, MODEL2);
        assertEq(nodes.getNode(v).locked, AUDIT_BOND, "one bond for both pools");
        assertEq(audits.modelsOf(v).length, 2, "two pools");
        assertEq(audits.activeMembers(MODEL), 2, "auditor and v");
        AuditPools.Member[] memory pool = audits.poolOf(MODEL);
        assertEq(pool[1].verifier, v, "stored");
        assertEq(pool[1].joinedBlock, block.number, "joined now");
        assertEq(pool[1].leftBlock, 0, "active");
    }

    function test_joinPool_needsARegisteredVerifierWithFreeStakeForTheBond() public {
        address stranger = address(0x5757);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotAVerifier.selector, stranger));
        join(stranger, MODEL);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotAVerifier.selector, prover));
        join(prover, MODEL);

        AuditManager.Params memory p = audits.params();
        p.minBond = 31e18;
        audits.setParams(p);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientFreeStake.selector, v, 30e18, 31e18));
        join(v, MODEL);
        assertEq(audits.activeMembers(MODEL), 1, "nothing joined");

        bytes32 unknown = keccak256("unknown model");
        vm.expectRevert(abi.encodeWithSelector(AuditManager.ModelUnknown.selector, unknown));
        join(v, unknown);
    }

    /// Once per model, also while a left entry awaits pruning; after pruning it may rejoin.
    function test_joinPool_oncePerModelUntilPruned() public {
        join(v, MODEL);
        vm.expectRevert(abi.encodeWithSelector(AuditPools.AlreadyInPool.selector, MODEL, v));
        join(v, MODEL);
        leave(v, MODEL);
        vm.expectRevert(abi.encodeWithSelector(AuditPools.AlreadyInPool.selector, MODEL, v));
        join(v, MODEL);
        vm.roll(block.number + 257);
        audits.prune(MODEL, 1);
        join(v, MODEL);
        assertEq(audits.poolOf(MODEL)[1].joinedBlock, block.number, "a fresh entry");
        assertEq(nodes.getNode(v).locked, AUDIT_BOND, "the bond was never released: not locked twice");
    }

    /// MAX_POOL entries, active or awaiting pruning.
    /// 64 active members at most; a full pool admits only a verifier whose bond beats its
    /// smallest member's, evicting that one (so flooding a pool costs outbidding every honest
    /// member, adversary suite pool-flood); left entries stay until pruned, 128 entries at most.
    function test_joinPool_aFullPoolAdmitsOnlyALargerBond() public {
        assertEq(audits.MAX_POOL(), 64, "cap");
        for (uint256 i = 1; i < 64; ++i) joinAuditPool(address(uint160(0x10000 + i)));
        assertEq(audits.activeMembers(MODEL), 64, "full");
        vm.expectRevert(abi.encodeWithSelector(AuditPools.OutbidToJoin.selector, MODEL, AUDIT_BOND, AUDIT_BOND));
        join(v, MODEL);
        // A larger bond evicts the smallest (the first found among equals: the fixture's auditor).
        vm.expectRevert(abi.encodeWithSelector(AuditManager.BondTooSmall.selector, 1e18, AUDIT_BOND));
        vm.prank(v);
        audits.increaseBond(1e18);
        vm.prank(v);
        audits.increaseBond(AUDIT_BOND + 1e18);
        vm.expectEmit(true, true, true, true);
        emit AuditPools.PoolEvicted(MODEL, auditor, v, AUDIT_BOND);
        join(v, MODEL);
        assertEq(audits.activeMembers(MODEL), 64, "still full");
        assertTrue(!audits.isActiveMember(MODEL, auditor), "evicted");
        assertTrue(audits.isActiveMember(MODEL, v), "in");
        assertEq(audits.poolOf(MODEL).length, 65, "the evicted entry stays for older seeds");
        // A member that leaves frees an active place at once.
        leave(address(0x10001), MODEL);
        joinAuditPool(address(0x20000));
        assertEq(audits.activeMembers(MODEL), 64, "full again");
    }

    function test_joinPool_atMostMaxEntriesUntilPruned() public {
        assertEq(audits.MAX_ENTRIES(), 128, "cap");
        for (uint256 i = 1; i < 128; ++i) {
            address w = address(uint160(0x10000 + i));
            joinAuditPool(w);
            if (i < 100) leave(w, MODEL);
        }
        assertEq(audits.poolOf(MODEL).length, 128, "entries");
        vm.expectRevert(abi.encodeWithSelector(AuditPools.PoolFull.selector, MODEL, 128));
        join(v, MODEL);
        vm.roll(block.number + 257);
        audits.prune(MODEL, 1);
        join(v, MODEL);
        assertEq(audits.poolOf(MODEL).length, 128, "the pruned place");
    }

    function test_joinPool_capsAVerifierAt16Pools() public {
        assertEq(audits.MAX_POOLS_PER_VERIFIER(), 16, "cap");
        for (uint256 i; i < 17; ++i) registerModel(keccak256(abi.encode("model", i)));
        for (uint256 i; i < 16; ++i) join(v, keccak256(abi.encode("model", i)));
        vm.expectRevert(abi.encodeWithSelector(AuditPools.TooManyPools.selector, v, 16));
        join(v, keccak256(abi.encode("model", uint256(16))));
        // Leaving one frees a place at once.
        leave(v, keccak256(abi.encode("model", uint256(3))));
        join(v, keccak256(abi.encode("model", uint256(16))));
        assertEq(audits.modelsOf(v).length, 16, "sixteen");
    }

    function test_leavePool_marksTheEntryAndStartsTheBondClockAfterTheLast() public {
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotInPool.selector, MODEL, v));
        leave(v, MODEL);
        join(v, MODEL);
        join(v, MODEL2);
        vm.roll(block.number + 5);
        vm.expectEmit(true, true, false, true);
        emit AuditPools.PoolLeft(MODEL, v, 1);
        leave(v, MODEL);
        assertEq(audits.poolOf(MODEL)[1].leftBlock, block.number, "left now");
        assertEq(audits.activeMembers(MODEL), 1, "one active");
        assertEq(audits.getAuditor(v).releaseAfter, 0, "still in MODEL2: no release clock");
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotInPool.selector, MODEL, v));
        leave(v, MODEL);
        leave(v, MODEL2);
        assertEq(audits.getAuditor(v).releaseAfter, block.timestamp + 2 days, "leaveDelay after the last pool");
        assertEq(audits.modelsOf(v).length, 0, "no pools");
    }

    /// A leaver may be pruned only once no unfixed draw can include it (> 256 blocks later);
    /// the entry moved into its slot stays consistent.
    function test_prune_onlyMoreThan256BlocksAfterLeaving() public {
        address w = address(0x7E42);
        registerVerifier(w, 10e18);
        join(v, MODEL);
        join(w, MODEL);
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotPrunable.selector, MODEL, 1));
        audits.prune(MODEL, 1); // active
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotPrunable.selector, MODEL, 3));
        audits.prune(MODEL, 3); // out of range
        leave(v, MODEL);
        uint256 leftBlock = block.number;
        vm.roll(leftBlock + 256);
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotPrunable.selector, MODEL, 1));
        audits.prune(MODEL, 1);
        vm.roll(leftBlock + 257);
        vm.expectEmit(true, true, false, true);
        emit AuditPools.PoolPruned(MODEL, v);
        vm.prank(challenger); // anyone
        audits.prune(MODEL, 1);
        AuditPools.Member[] memory pool = audits.poolOf(MODEL);
        assertEq(pool.length, 2, "one fewer");
        assertEq(pool[1].verifier, w, "the last entry moved into the slot");
        leave(w, MODEL); // its slot index was updated
        assertEq(audits.poolOf(MODEL)[1].leftBlock, block.number, "w left from its new slot");
    }

    function test_releaseBond_afterLeavingEveryPoolAndLeaveDelay() public {
        join(v, MODEL);
        join(v, MODEL2);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NothingToRelease.selector, v));
        vm.prank(v);
        audits.releaseBond();
        leave(v, MODEL);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NothingToRelease.selector, v));
        vm.prank(v);
        audits.releaseBond();
        leave(v, MODEL2);
        uint40 releaseAfter = audits.getAuditor(v).releaseAfter;
        vm.warp(releaseAfter - 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.BondLocked.selector, v, releaseAfter));
        vm.prank(v);
        audits.releaseBond();
        vm.warp(releaseAfter);
        vm.expectEmit(true, false, false, true);
        emit AuditManager.BondReleased(v, AUDIT_BOND);
        vm.prank(v);
        audits.releaseBond();
        assertEq(nodes.getNode(v).locked, 0, "unlocked");
        assertEq(audits.getAuditor(v).bond, 0, "no bond");
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NothingToRelease.selector, v));
        vm.prank(v);
        audits.releaseBond();
        vm.prank(v);
        nodes.requestUnbond(30e18); // the whole stake is free again
    }

    /// leaveDelay ≥ auditPeriod + vestDelay: an auditor that reports and leaves at once still has
    /// its bond locked when a canary exposes it.
    function test_releaseBond_neverBeforeItsLastReportVests() public {
        address canary = address(0xCA7);
        audits.grantRole(audits.CANARY_ROLE(), canary);
        uint256 jobId = openStandard();
        vm.prank(canary);
        audits.commitCanary(keccak256(abi.encode(prover, bytes32("salt"))));
        vm.roll(block.number + 1);
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "leave"));
        vm.warp(audits.getAudit(jobId).deadline); // report as late as possible...
        report(auditor, jobId);
        leave(auditor, MODEL); // ...and leave at once
        uint40 vestsAt = audits.getAudit(jobId).vestsAt;
        uint40 releaseAfter = audits.getAuditor(auditor).releaseAfter;
        assertTrue(releaseAfter >= vestsAt, "bond outlives the vesting");
        vm.warp(vestsAt - 1);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.BondLocked.selector, auditor, releaseAfter));
        vm.prank(auditor);
        audits.releaseBond();
        vm.prank(prover);
        audits.exposeCanary(jobId, bytes32("salt"));
        assertEq(nodes.credits(treasury), AUDIT_BOND, "the bond was still there to slash");
    }

    /// With nobody to audit, no job may open: the deterrence limit has no detection to count on.
    function test_openJob_revertsNoAuditorsWhileThePoolIsEmpty() public {
        vm.prank(prover);
        nodes.setOffer(MODEL2, IN_PRICE, OUT_PRICE);
        fund(client, 1e18);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NoAuditors.selector, MODEL2));
        vm.prank(client);
        escrow.openJob(jobParamsFor(MODEL2));

        leave(auditor, MODEL);
        vm.expectRevert(abi.encodeWithSelector(AuditManager.NoAuditors.selector, MODEL));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));

        join(v, MODEL2);
        vm.prank(client);
        escrow.openJob(jobParamsFor(MODEL2));
    }

    function jobParamsFor(bytes32 modelId) internal view returns (IJobEscrow.OpenJobParams memory p) {
        p = jobParams(prover, IN_TOK, MAX_OUT);
        p.modelId = modelId;
    }
}
