// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {AuditPools} from "../../../contracts/audit/AuditPools.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";

/// @notice The audit draw (PROTOCOL §9.1): audited iff seed mod 10⁴ < rate, auditor = the
/// eligible pool member with the smallest keccak256(seed, member), eligibility judged at the
/// seed block so nobody can steer a draw after seeing its seed.
contract AuditDrawTest is AuditFixture {
    address v1 = address(0xA1);
    address v2 = address(0xA2);
    address v3 = address(0xA3);

    function setUp() public {
        setUpAudits();
        joinAuditPool(v1);
        joinAuditPool(v2);
        joinAuditPool(v3);
        // Members must have joined strictly before a job's seed block to be drawn.
        vm.roll(block.number + 1);
    }

    function members() internal view returns (address[] memory) {
        return list(auditor, v1, v2, v3);
    }

    // ------------------------------------------------------------------ audited or not

    /// Forty chosen hashes at the default 10% rate: each job's outcome is the one the seed
    /// dictates, and both outcomes occur (so the test cannot pass with a constant draw).
    function test_draw_auditedIffSeedBelowRate_bothOutcomesOccur() public {
        uint256 rate = audits.auditRateOf(MODEL);
        assertEq(rate, 1_000, "default rate");
        uint256 audited;
        uint256 unaudited;
        for (uint256 i; i < 40; ++i) {
            uint256 jobId = openStandard();
            uint256 seedBlock = commitTraced(jobId, OUT_TOK);
            bytes32 h = keccak256(abi.encode("draw", i));
            revealSeed(seedBlock, h);
            AuditManager.AuditState state = audits.fixDraw(jobId);
            bytes32 seed = seedOf(h, jobId);
            assertEq(audits.getAudit(jobId).seed, seed, "seed = keccak256(blockhash, jobId)");
            if (auditedBy(seed, rate)) {
                ++audited;
                assertEq(uint256(state), uint256(AuditManager.AuditState.Assigned), "audited");
                assertEq(audits.getAudit(jobId).auditor, lowestScore(seed, members()), "auditor");
            } else {
                ++unaudited;
                assertEq(uint256(state), uint256(AuditManager.AuditState.Unaudited), "unaudited");
                assertEq(audits.getAudit(jobId).auditor, address(0), "no auditor");
            }
        }
        assertTrue(audited > 0 && unaudited > 0, "both outcomes exercised");
    }

    function testFuzz_draw_auditedIffSeedBelowRate(bytes32 h, uint16 rate) public {
        vm.assume(h != bytes32(0));
        rate = uint16(bound(rate, 1, 10_000));
        audits.setModelAuditRate(MODEL, rate);
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, h);
        bool expected = auditedBy(seedOf(h, jobId), rate);
        assertEq(uint256(audits.fixDraw(jobId)), uint256(expected ? AuditManager.AuditState.Assigned : AuditManager.AuditState.Unaudited), "draw");
    }

    /// The boundary: with r = seed mod 10⁴, a rate of r does not audit and a rate of r + 1 does.
    function test_draw_rateBoundaryIsStrict() public {
        bytes32 h = keccak256("boundary");
        uint256 first = escrow.nextJobId();
        uint256 r1 = uint256(seedOf(h, first)) % BPS;
        uint256 r2 = uint256(seedOf(h, first + 1)) % BPS;
        assertTrue(r1 > 0 && r2 < BPS - 1, "pick another hash");
        audits.setModelAuditRate(MODEL, uint16(r1));
        uint256 atRate = openStandard();
        vm.prank(prover);
        escrow.commitResult(atRate, keccak256("t"), keccak256("o"), OUT_TOK);
        audits.setModelAuditRate(MODEL, uint16(r2 + 1));
        uint256 aboveRate = openStandard();
        vm.prank(prover);
        escrow.commitResult(aboveRate, keccak256("t"), keccak256("o"), OUT_TOK);
        revealSeed(block.number, h);
        assertEq(uint256(audits.fixDraw(atRate)), uint256(AuditManager.AuditState.Unaudited), "seed mod 1e4 == rate: not audited");
        assertEq(uint256(audits.fixDraw(aboveRate)), uint256(AuditManager.AuditState.Assigned), "seed mod 1e4 == rate - 1: audited");
    }

    /// The rate is the one in force at the commit; a change before the draw is fixed is ignored.
    function test_draw_usesTheRateSnapshottedAtCommit() public {
        audits.setModelAuditRate(MODEL, 10_000);
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        audits.setModelAuditRate(MODEL, 1);
        bytes32 h = keccak256("snapshot");
        assertTrue(!auditedBy(seedOf(h, jobId), 1), "the new rate would not audit");
        revealSeed(seedBlock, h);
        assertEq(audits.getAudit(jobId).rateBps, 10_000, "rate snapshot");
        assertEq(uint256(audits.fixDraw(jobId)), uint256(AuditManager.AuditState.Assigned), "audited at the old rate");
    }

    // ------------------------------------------------------------------ who audits

    function testFuzz_draw_auditorIsTheEligibleMemberWithTheSmallestScore(bytes32 h) public {
        vm.assume(h != bytes32(0));
        audits.setModelAuditRate(MODEL, 10_000);
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, h);
        address expected = lowestScore(seedOf(h, jobId), members());
        assertEq(audits.assignment(jobId).auditor, expected, "the view predicts the draw");
        audits.fixDraw(jobId);
        assertEq(audits.getAudit(jobId).auditor, expected, "fixed auditor");
        assertEq(audits.assignment(jobId).auditor, expected, "the view after fixing");
    }

    /// Every member wins some draw: the minimum really ranges over the whole pool.
    function test_draw_everyMemberCanWin() public {
        audits.setModelAuditRate(MODEL, 10_000);
        address[] memory all = members();
        for (uint256 m; m < all.length; ++m) {
            uint256 jobId = openStandard();
            uint256 seedBlock = commitTraced(jobId, OUT_TOK);
            revealSeed(seedBlock, hashFavouring(jobId, 10_000, all, all[m]));
            audits.fixDraw(jobId);
            assertEq(audits.getAudit(jobId).auditor, all[m], "the favoured member audits");
        }
    }

    /// A member that joined in the seed block, or after seeing the seed, is not drawn even when
    /// it would have the smallest score.
    function test_draw_memberJoiningInOrAfterTheSeedBlockIsIneligible() public {
        address early = address(0xE1);
        address late = address(0xE2);
        uint256 jobId = openStandard();
        joinAuditPool(early); // same block as the commit
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        bytes32 h = hashFavouring(jobId, 1_000, list(auditor, v1, v2, v3, early), early);
        revealSeed(seedBlock, h);
        audits.fixDraw(jobId);
        assertEq(audits.getAudit(jobId).auditor, lowestScore(seedOf(h, jobId), members()), "joined in the seed block");

        uint256 second = openStandard();
        seedBlock = commitTraced(second, OUT_TOK);
        h = hashFavouring(second, 1_000, list(auditor, v1, v2, v3, late), late);
        revealSeed(seedBlock, h);
        joinAuditPool(late); // after the seed is public
        audits.fixDraw(second);
        assertEq(audits.getAudit(second).auditor, lowestScore(seedOf(h, second), members()), "joined after the seed block");
    }

    function test_draw_memberLeavingAfterTheSeedBlockStaysEligible() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashFavouring(jobId, 1_000, members(), v1));
        vm.prank(v1);
        audits.leavePool(MODEL); // seeing it is drawn, it tries to dodge the audit
        audits.fixDraw(jobId);
        assertEq(audits.getAudit(jobId).auditor, v1, "still drawn");
    }

    /// v1 left a block before the seed block, v2 in the seed block itself: neither is drawn,
    /// even under a hash where it would score lowest.
    function test_draw_memberLeftAtOrBeforeTheSeedBlockIsIneligible() public {
        uint256 first = openStandard();
        uint256 second = openStandard();
        vm.prank(v1);
        audits.leavePool(MODEL);
        vm.roll(block.number + 1);
        vm.prank(v2);
        audits.leavePool(MODEL);
        uint256 seedBlock = commitTraced(first, OUT_TOK);
        commitTraced(second, OUT_TOK);
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("left", i));
            if (
                auditedBy(seedOf(h, first), 1_000) && lowestScore(seedOf(h, first), members()) == v1
                    && auditedBy(seedOf(h, second), 1_000) && lowestScore(seedOf(h, second), members()) == v2
            ) break;
        }
        revealSeed(seedBlock, h);
        audits.fixDraw(first);
        audits.fixDraw(second);
        assertEq(audits.getAudit(first).auditor, lowestScore(seedOf(h, first), list(auditor, v3)), "left before the seed block");
        assertEq(audits.getAudit(second).auditor, lowestScore(seedOf(h, second), list(auditor, v3)), "left in the seed block");
    }

    /// With every member out by the seed block an audited job has nobody to audit it.
    function test_draw_noEligibleMemberIsNoAuditor() public {
        uint256 jobId = openStandard();
        address[] memory all = members();
        for (uint256 i; i < all.length; ++i) {
            vm.prank(all[i]);
            audits.leavePool(MODEL);
        }
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "nobody"));
        assertEq(uint256(audits.assignment(jobId).state), uint256(AuditManager.AuditState.NoAuditor), "view");
        assertEq(uint256(audits.fixDraw(jobId)), uint256(AuditManager.AuditState.NoAuditor), "fixed");
        // Nobody has priority: a volunteer may dispute at once.
        escrow.onDisputeOpened(jobId, challenger);
    }

    /// Attack: colluding members see the seed and then leave, join, and prune (which reorders the
    /// stored pool) to move the draw to a sybil. The outcome is the one the seed fixed.
    function test_draw_steeringAfterTheSeedChangesNothing() public {
        address gone = address(0xD0);
        address sybil = address(0x5B);
        joinAuditPool(gone);
        vm.prank(gone);
        audits.leavePool(MODEL);
        vm.roll(block.number + 300); // `gone` may now be pruned

        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        // The honest `auditor` wins among the eligible; the sybil would win if it could enter.
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("steer", i));
            bytes32 s = seedOf(h, jobId);
            if (
                auditedBy(s, 1_000) && lowestScore(s, members()) == auditor
                    && lowestScore(s, list(auditor, v1, v2, v3, sybil)) == sybil
            ) break;
        }
        revealSeed(seedBlock, h);
        address predicted = audits.assignment(jobId).auditor;
        assertEq(predicted, auditor, "predicted from the seed");

        // The collusion moves.
        vm.prank(v1);
        audits.leavePool(MODEL);
        joinAuditPool(sybil);
        audits.prune(MODEL, 4); // `gone`: the last entry moves into its slot
        vm.expectRevert(abi.encodeWithSelector(AuditPools.NotPrunable.selector, MODEL, 1));
        audits.prune(MODEL, 1); // v1 left after the seed: not prunable for 256 blocks
        vm.roll(block.number + 3);
        vm.prank(v2);
        audits.leavePool(MODEL);

        assertEq(audits.assignment(jobId).auditor, predicted, "view unchanged");
        audits.fixDraw(jobId);
        assertEq(audits.getAudit(jobId).auditor, auditor, "draw unchanged");
    }

    // ------------------------------------------------------------------ timing

    /// Nothing can act on the draw in the commit block: its seed does not exist yet.
    function test_draw_notReadyInTheCommitBlock() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        bytes memory notReady = abi.encodeWithSelector(AuditManager.DrawNotReady.selector, jobId, seedBlock);

        vm.expectRevert(notReady);
        audits.fixDraw(jobId);
        vm.expectRevert(notReady);
        escrow.onDisputeOpened(jobId, challenger); // this test contract is the dispute game
        vm.expectRevert(notReady);
        vm.prank(auditor);
        audits.reportAudit(jobId, "", new bytes32[](0));
        assertEq(uint256(audits.assignment(jobId).state), uint256(AuditManager.AuditState.Pending), "still pending");

        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "ready"));
        assertEq(uint256(audits.fixDraw(jobId)), uint256(AuditManager.AuditState.Assigned), "ready one block later");
    }

    /// blockhash covers 256 blocks: a draw fixed at seedBlock + 256 is drawn, one block later it
    /// has lapsed (unaudited, nobody blamed) and anyone may dispute.
    function test_draw_lapsesWhenFixedAfter256Blocks() public {
        uint256 first = openStandard();
        uint256 second = openStandard();
        vm.prank(prover);
        escrow.commitResult(first, keccak256("t1"), keccak256("o"), OUT_TOK);
        vm.prank(prover);
        escrow.commitResult(second, keccak256("t2"), keccak256("o"), OUT_TOK);
        uint256 seedBlock = block.number;
        bytes32 h;
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("lapse", i));
            if (auditedBy(seedOf(h, first), 1_000) && auditedBy(seedOf(h, second), 1_000)) break;
        }
        revealSeed(seedBlock, h);

        vm.roll(seedBlock + 256);
        assertEq(uint256(audits.fixDraw(first)), uint256(AuditManager.AuditState.Assigned), "last block with the hash");
        vm.roll(seedBlock + 257);
        assertEq(uint256(audits.assignment(second).state), uint256(AuditManager.AuditState.Pending), "view: seed gone");
        assertEq(uint256(audits.fixDraw(second)), uint256(AuditManager.AuditState.Lapsed), "lapsed");
        assertEq(audits.getAudit(second).auditor, address(0), "nobody blamed");
        escrow.onDisputeOpened(second, challenger);
        assertState(first, AuditManager.AuditState.Assigned, "the first stays assigned");
    }

    /// fixDraw is idempotent: a second call returns the stored state and changes nothing.
    function test_fixDraw_isIdempotent() public {
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, 1_000, "idem"));
        audits.fixDraw(jobId);
        address first = audits.getAudit(jobId).auditor;
        vm.setBlockhash(seedBlock, keccak256("another hash"));
        audits.fixDraw(jobId);
        assertEq(audits.getAudit(jobId).auditor, first, "not redrawn");
    }

    function test_fixDraw_beforeAnyCommitIsNone() public {
        uint256 jobId = openStandard();
        assertEq(uint256(audits.fixDraw(jobId)), uint256(AuditManager.AuditState.None), "no commit, no draw");
    }

    // ------------------------------------------------------------------ what is audited

    /// k distinct boundaries of 0..L by a seeded Fisher–Yates shuffle, ascending; the head step;
    /// a probe leaf at one of them with row < N−1 and chunk < ceil(d/C).
    function testFuzz_assignment_boundariesAndProbe(bytes32 h, uint8 k) public {
        vm.assume(h != bytes32(0));
        k = uint8(bound(k, 1, 8));
        AuditManagerParams.set(audits, k);
        audits.setModelAuditRate(MODEL, 10_000);
        uint256 jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, h);
        audits.fixDraw(jobId);
        AuditManager.Assignment memory s = audits.assignment(jobId);
        bytes32 seed = seedOf(h, jobId);

        uint32[] memory expected = expectedBoundaries(seed, 5, k);
        assertEq(s.boundaries.length, expected.length, "k = min(boundaries, L+1)");
        for (uint256 i; i < expected.length; ++i) assertEq(s.boundaries[i], expected[i], "boundary");
        assertTrue(s.head, "head step always");
        uint256 r = uint256(keccak256(abi.encode(seed, "probe")));
        assertEq(s.probeBoundary, expected[r % expected.length], "probe boundary");
        assertEq(s.probeRow, (r >> 64) % (IN_TOK + OUT_TOK - 1), "probe row < N-1");
        assertEq(s.probeChunk, 0, "one chunk per row in this model");
        assertEq(s.deadline, audits.getAudit(jobId).deadline, "deadline");
    }

    /// Fisher–Yates over 0..L keyed by keccak256(seed, "boundary", i), first k, sorted.
    function expectedBoundaries(bytes32 seed, uint256 l1, uint256 k) internal pure returns (uint32[] memory out) {
        if (k > l1) k = l1;
        uint32[] memory all = new uint32[](l1);
        for (uint256 i; i < l1; ++i) all[i] = uint32(i);
        for (uint256 i; i < k; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, "boundary", i))) % (l1 - i);
            (all[i], all[j]) = (all[j], all[i]);
        }
        out = new uint32[](k);
        for (uint256 i; i < k; ++i) out[i] = all[i];
        for (uint256 i; i < k; ++i) {
            for (uint256 j = i + 1; j < k; ++j) {
                if (out[j] < out[i]) (out[i], out[j]) = (out[j], out[i]);
            }
        }
        for (uint256 i = 1; i < k; ++i) {
            if (out[i] == out[i - 1]) revert("duplicate boundary");
        }
    }
}

/// @dev Sets the number of audited boundaries, keeping every other default parameter.
library AuditManagerParams {
    function set(AuditManager audits, uint8 k) internal {
        AuditManager.Params memory p = audits.params();
        p.boundaries = k;
        audits.setParams(p);
    }
}

/// @notice The prover never audits its own job. A node has one role, so the real escrow never
/// presents a pool member as a prover; this test plays the escrow to check the draw's own guard.
contract AuditDrawProverExclusionTest is Suite {
    IJobEscrow.Job internal _job;

    function setUp() public {
        token = new TestToken(address(this));
        models = new ModelRegistry(address(this), OP_COUNT);
        nodes = new NodeRegistry(address(this), token, models, MIN_PROVER_STAKE, MIN_VERIFIER_STAKE, UNBONDING_DELAY, treasury);
        audits = new AuditManager(address(this), IJobEscrow(address(this)), nodes, models, defaultAuditParams());
        nodes.grantRole(nodes.AUDIT_ROLE(), address(audits));
        registerModel(MODEL);
        audits.setModelAuditRate(MODEL, 10_000);
    }

    /// The escrow surface the audit manager reads.
    function getJob(uint256) external view returns (IJobEscrow.Job memory) {
        return _job;
    }

    function auditPool() external pure returns (uint256) {
        return 0;
    }

    function join(address who) internal {
        token.mint(who, AUDIT_BOND);
        vm.startPrank(who);
        token.approve(address(nodes), AUDIT_BOND);
        nodes.register(INodeRegistry.Role.Verifier, AUDIT_BOND, "http://127.0.0.1:8700");
        audits.joinPool(MODEL);
        vm.stopPrank();
    }

    function test_draw_proverIsNeverItsOwnAuditor() public {
        address a = address(0xA1);
        address b = address(0xA2);
        address c = address(0xA3);
        join(a);
        join(b);
        join(c);
        vm.roll(block.number + 1);
        _job.prover = b;
        _job.modelId = MODEL;
        _job.status = IJobEscrow.JobStatus.Committed;
        audits.onResultCommitted(1, MODEL, uint64(block.timestamp + 3600));
        uint256 seedBlock = block.number;

        // A hash under which the prover itself has the smallest score.
        bytes32 h;
        address[] memory all = new address[](3);
        (all[0], all[1], all[2]) = (a, b, c);
        address[] memory others = new address[](2);
        (others[0], others[1]) = (a, c);
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("self", i));
            if (_lowest(keccak256(abi.encode(h, uint256(1))), all) == b) break;
        }
        vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, h);
        audits.fixDraw(1);
        assertEq(audits.getAudit(1).auditor, _lowest(keccak256(abi.encode(h, uint256(1))), others), "next best, not the prover");
    }

    function _lowest(bytes32 seed, address[] memory candidates) private pure returns (address best) {
        uint256 bestScore = type(uint256).max;
        for (uint256 i; i < candidates.length; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, candidates[i])));
            if (s < bestScore) (bestScore, best) = (s, candidates[i]);
        }
    }
}
