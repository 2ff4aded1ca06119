// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {CreditLedger} from "../../../contracts/libraries/CreditLedger.sol";
import {vm} from "../utils/Vm.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {EscrowParams} from "../../../contracts/escrow/EscrowParams.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";

contract JobEscrowTest is Suite {
    uint32 constant IN_TOK = 100;
    uint32 constant MAX_OUT = 50;
    uint256 constant COST = uint256(IN_TOK) * IN_PRICE + uint256(MAX_OUT) * OUT_PRICE;

    function setUp() public {
        deploySuite();
        registerProver(prover, 1_000e18);
    }

    // ------------------------------------------------------------------ open

    function test_openJob_escrowsMaxCostAndLocksCollateral() public {
        // Escrow = inputTokens·inPrice (the prompt's exact length) + maxOut·outPrice.
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        assertEq(job.escrowed, COST, "escrowed");
        assertEq(job.collateral, 1e18, "collateral = minCollateral (2x cost is below it)");
        assertEq(uint8(job.status), uint8(IJobEscrow.JobStatus.Open), "status");
        assertEq(job.commitDeadline, block.timestamp + 600, "deadline");
        assertEq(token.balanceOf(address(escrow)), COST, "tokens held");
        assertEq(nodes.getNode(prover).locked, 1e18, "locked");
        assertSolvent();
    }

    function test_openJob_collateralScalesWithCost() public {
        uint32 inTok = 400;
        fund(client, uint256(inTok) * 1e18);
        vm.prank(prover);
        nodes.setOffer(MODEL, 1e15, 1e15);
        IJobEscrow.OpenJobParams memory p = jobParams(prover, inTok, 100);
        p.inputPrice = 1e15;
        p.outputPrice = 1e15;
        vm.prank(client);
        uint256 jobId = escrow.openJob(p);
        assertEq(escrow.getJob(jobId).collateral, 2 * 500 * 1e15, "2x escrow");
    }

    function test_openJob_emitsJobOpened() public {
        fund(client, COST);
        vm.expectEmit(true, true, true, true);
        emit JobEscrow.JobOpened(1, client, prover, MODEL, TokenRoot.root(promptBytes(), 0), IN_TOK, COST, 1e18, uint64(block.timestamp + 600));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }

    function test_openJob_revertsOnPriceMismatch() public {
        fund(client, COST);
        IJobEscrow.OpenJobParams memory p = jobParams(prover, IN_TOK, MAX_OUT);
        p.outputPrice = OUT_PRICE - 1;
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.PriceMismatch.selector, IN_PRICE, OUT_PRICE, IN_PRICE, OUT_PRICE - 1));
        vm.prank(client);
        escrow.openJob(p);
    }

    function test_openJob_revertsWithoutOffer() public {
        fund(client, COST);
        vm.prank(prover);
        nodes.removeOffer(MODEL);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.NoActiveOffer.selector, prover, MODEL));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }

    function test_openJob_revertsOnTokenLimits() public {
        fund(client, COST);
        vm.startPrank(client);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidTokenLimits.selector, uint32(0), MAX_OUT, uint32(512)));
        escrow.openJob(jobParams(prover, 0, MAX_OUT));
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidTokenLimits.selector, IN_TOK, uint32(0), uint32(512)));
        escrow.openJob(jobParams(prover, IN_TOK, 0));
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidTokenLimits.selector, uint32(500), uint32(13), uint32(512)));
        escrow.openJob(jobParams(prover, 500, 13));
        vm.stopPrank();
    }

    /// @notice Sampling rules the judge cannot check never reach a job (PROTOCOL §4.4): top-k
    /// other than 0/1, or a positive finite temperature above 2^16.
    function test_openJob_revertsOnUnverifiableSampling() public {
        fund(client, 20 * COST);
        uint256[6] memory bad = [
            uint256(2) << 32, // top-k 2
            uint256(type(uint32).max) << 32, // top-k 2^32-1
            (uint256(2) << 32) | 0x3f800000, // top-k 2 at tau 1
            0x47800001, // tau just above 2^16
            0x7f7fffff, // largest finite tau
            (uint256(1) << 32) | 0x7f000000 // greedy top-k does not excuse a huge tau
        ];
        vm.startPrank(client);
        for (uint256 i; i < bad.length; ++i) {
            IJobEscrow.OpenJobParams memory p = jobParams(prover, IN_TOK, MAX_OUT);
            p.samplingParams = bad[i] | (uint256(0xdead) << 64);
            vm.expectRevert(abi.encodeWithSelector(JobEscrow.UnverifiableSampling.selector, p.samplingParams));
            escrow.openJob(p);
        }
        uint256[8] memory good = [
            uint256(0), // greedy
            0x3f800000, // tau 1, no top-k: sampled
            0x47800000, // tau exactly 2^16
            0x7f800000, // +inf: not finite, greedy
            0x7fc00000, // NaN: greedy
            0xbf800000, // tau -1: greedy
            0x00000001, // smallest subnormal: sampled
            (uint256(1) << 32) | 0x3f800000 // top-k 1: greedy
        ];
        for (uint256 i; i < good.length; ++i) {
            IJobEscrow.OpenJobParams memory p = jobParams(prover, IN_TOK, MAX_OUT);
            p.samplingParams = good[i] | (uint256(7) << 64);
            uint256 jobId = escrow.openJob(p);
            assertEq(escrow.getJob(jobId).samplingParams, p.samplingParams, "stored verbatim");
        }
        vm.stopPrank();
    }

    /// @notice verifiableSampling agrees with the rule written out on the decoded fields.
    function testFuzz_verifiableSampling_matchesRule(uint256 sp) public view {
        // Half the runs keep top-k in {0, 1}, where the temperature decides.
        if (sp >> 255 == 1) sp &= ~(uint256(0xfffffffe) << 32);
        uint256 k = (sp >> 32) & 0xffffffff;
        uint32 bits = uint32(sp);
        bool positiveFinite = bits >> 31 == 0 && (bits >> 23) & 0xff != 0xff && bits != 0;
        // A positive finite binary32 is > 2^16 iff its exponent field exceeds 143, or equals it
        // with a non-zero mantissa.
        bool huge = positiveFinite && ((bits >> 23) > 143 || ((bits >> 23) == 143 && bits & 0x7fffff != 0));
        assertTrue(escrow.verifiableSampling(sp) == (k <= 1 && !huge), "rule");
    }

    function test_openJob_revertsWhenFreeStakeCannotCoverCollateral() public {
        // Stake 100e18 with 60e18 collateral per job: the second job finds only 40e18 free.
        vm.prank(prover);
        nodes.requestUnbond(900e18);
        EscrowParams.Params memory p = defaultParams();
        p.minCollateral = 60e18;
        escrow.setParams(p);
        openJob(IN_TOK, MAX_OUT);
        fund(client, COST);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientFreeStake.selector, prover, 40e18, 60e18));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }

    function test_openJob_revertsWhenProverBelowMinimumStake() public {
        vm.prank(prover);
        nodes.requestUnbond(999e18);
        fund(client, COST);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StakeTooLow.selector, prover, 1e18, MIN_PROVER_STAKE));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }

    function test_openJob_revertsWithoutAllowance() public {
        token.mint(client, COST);
        vm.expectRevert();
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
        assertSolvent();
    }

    function test_openJobWithPermit_opensInOneCall() public {
        uint256 key = 0xA11CE;
        address signer = vm.addr(key);
        token.mint(signer, COST);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                signer,
                address(escrow),
                COST,
                token.nonces(signer),
                block.timestamp + 1
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        vm.prank(signer);
        uint256 jobId = escrow.openJobWithPermit(jobParams(prover, IN_TOK, MAX_OUT), block.timestamp + 1, v, r, s);
        assertEq(escrow.getJob(jobId).client, signer, "client");
        assertEq(token.balanceOf(signer), 0, "pulled");
    }

    function test_getJob_revertsForUnknownJob() public {
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.UnknownJob.selector, 7));
        escrow.getJob(7);
    }

    // ------------------------------------------------------------------ commit

    function test_commit_startsChallengeWindow() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.warp(block.timestamp + 600); // the deadline second itself is still in time
        commit(jobId, 20);
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        assertEq(uint8(job.status), uint8(IJobEscrow.JobStatus.Committed), "status");
        assertEq(job.challengeDeadline, block.timestamp + 3600, "window");
        assertEq(job.traceRoot, keccak256("trace"), "root");
    }

    function test_commit_revertsAfterDeadline() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        uint64 deadline = escrow.getJob(jobId).commitDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.CommitDeadlinePassed.selector, jobId, deadline));
        commit(jobId, 20);
    }

    function test_commit_revertsForOtherCaller() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.NotJobProver.selector, jobId, client));
        vm.prank(client);
        escrow.commitResult(jobId, keccak256("t"), keccak256("o"), 1);
    }

    function test_commit_revertsOnBadCounts() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.OutputTokensOutOfRange.selector, jobId, MAX_OUT + 1, MAX_OUT));
        commit(jobId, MAX_OUT + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.OutputTokensOutOfRange.selector, jobId, uint32(0), MAX_OUT));
        commit(jobId, 0);
        commit(jobId, MAX_OUT);
        assertEq(escrow.getJob(jobId).inputTokens, IN_TOK, "the prompt length stays what was escrowed");
    }

    function test_commit_revertsOnZeroRoot() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidCommitment.selector, jobId));
        vm.prank(prover);
        escrow.commitResult(jobId, bytes32(0), keccak256("o"), 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidCommitment.selector, jobId));
        vm.prank(prover);
        escrow.commitResult(jobId, keccak256("t"), bytes32(0), 1);
    }

    function test_commit_revertsTwice() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        vm.expectRevert(
            abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Committed, IJobEscrow.JobStatus.Open)
        );
        commit(jobId, 20);
    }

    // ------------------------------------------------------------------ finalize

    function test_finalize_paysPerTokenLessFeeAndRefundsRest() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        vm.warp(escrow.getJob(jobId).challengeDeadline + 1);
        escrow.finalize(jobId);

        uint256 cost = IN_TOK * uint256(IN_PRICE) + 20 * uint256(OUT_PRICE);
        uint256 fee = cost * 250 / 10_000;
        uint256 auditFee = cost * 500 / 10_000;
        assertEq(escrow.credits(prover), cost - fee - auditFee, "prover paid");
        assertEq(escrow.credits(treasury), fee, "fee");
        assertEq(escrow.auditPool(), auditFee, "audit fee pooled");
        assertEq(escrow.credits(client), COST - cost, "refund");
        assertEq(nodes.getNode(prover).locked, 0, "unlocked");
        assertEq(escrow.exposure(prover), 0, "exposure released");
        assertSolvent();

        vm.prank(prover);
        escrow.withdraw();
        vm.prank(client);
        escrow.withdraw();
        vm.prank(treasury);
        escrow.withdraw();
        assertEq(token.balanceOf(prover), cost - fee - auditFee, "withdrawn");
        assertEq(token.balanceOf(address(escrow)), auditFee, "only the audit pool left");
        assertSolvent();
    }

    function test_finalize_revertsDuringWindowIncludingLastSecond() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint64 deadline = escrow.getJob(jobId).challengeDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.ChallengeWindowOpen.selector, jobId, deadline));
        escrow.finalize(jobId);
    }

    function test_finalize_revertsTwice() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        vm.warp(escrow.getJob(jobId).challengeDeadline + 1);
        escrow.finalize(jobId);
        vm.expectRevert(
            abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Finalized, IJobEscrow.JobStatus.Committed)
        );
        escrow.finalize(jobId);
    }

    function test_finalize_revertsBeforeCommit() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.expectRevert(
            abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Open, IJobEscrow.JobStatus.Committed)
        );
        escrow.finalize(jobId);
    }

    function test_finalizeMany_settlesReadyJobsAndSkipsOthers() public {
        uint256 a = openJob(IN_TOK, MAX_OUT);
        uint256 b = openJob(IN_TOK, MAX_OUT);
        uint256 c = openJob(IN_TOK, MAX_OUT); // never committed
        commit(a, 1);
        commit(b, 2);
        vm.warp(block.timestamp + 3601);
        escrow.finalize(a); // someone else got there first
        uint256[] memory ids = new uint256[](4);
        (ids[0], ids[1], ids[2], ids[3]) = (a, b, c, 999);
        assertEq(escrow.finalizeMany(ids), 1, "only b settles");
        assertEq(uint8(escrow.getJob(b).status), uint8(IJobEscrow.JobStatus.Finalized), "b");
        assertEq(uint8(escrow.getJob(c).status), uint8(IJobEscrow.JobStatus.Open), "c");
        assertSolvent();
    }

    function test_finalizeMany_revertsOverBatchLimit() public {
        uint256[] memory ids = new uint256[](101);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.BatchTooLarge.selector, 101, 100));
        escrow.finalizeMany(ids);
    }

    function test_finalize_usesFeeFixedAtOpen() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        EscrowParams.Params memory p = defaultParams();
        p.feeBps = 1_000;
        escrow.setParams(p);
        commit(jobId, 20);
        vm.warp(escrow.getJob(jobId).challengeDeadline + 1);
        escrow.finalize(jobId);
        uint256 cost = IN_TOK * uint256(IN_PRICE) + 20 * uint256(OUT_PRICE);
        assertEq(escrow.credits(treasury), cost * 250 / 10_000, "old fee");
    }

    // ------------------------------------------------------------------ expiry

    function test_refundExpired_withoutPublishedPrompt_refundsWithoutPenalty() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        uint64 deadline = escrow.getJob(jobId).commitDeadline;
        vm.warp(deadline);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.CommitDeadlineNotPassed.selector, jobId, deadline));
        escrow.refundExpired(jobId);
        vm.warp(deadline + 1);
        escrow.refundExpired(jobId);

        // The prover may never have received the prompt: nothing is taken from it.
        assertEq(escrow.credits(client), COST, "full refund");
        assertEq(nodes.credits(client), 0, "no penalty");
        assertEq(nodes.getNode(prover).stake, 1_000e18, "stake intact");
        assertEq(nodes.getNode(prover).locked, 0, "unlocked");
        assertEq(uint8(escrow.getJob(jobId).status), uint8(IJobEscrow.JobStatus.Expired), "status");
        assertSolvent();
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Expired, IJobEscrow.JobStatus.Open));
        commit(jobId, 1);
    }

    uint256 constant COST3 = 3 * uint256(IN_PRICE) + uint256(MAX_OUT) * OUT_PRICE;

    function test_publishPrompt_extendsDeadlineAndMakesExpiryTheProversFault() public {
        uint256 jobId = openJob(3, MAX_OUT);
        vm.warp(block.timestamp + 500); // 100 s before the original deadline
        vm.expectEmit(true, true, false, true);
        emit JobEscrow.PromptPublished(jobId, prover, promptBytes(), uint64(block.timestamp + 600), uint64(block.timestamp + 120));
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        assertEq(job.commitDeadline, block.timestamp + 600, "a full commit timeout from publication");
        assertTrue(job.promptPublished, "published");
        assertEq(job.declineDeadline, block.timestamp + 120, "decline window");
        assertEq(escrow.publishedOpen(prover), 1, "counted");

        vm.warp(job.commitDeadline + 1);
        escrow.refundExpired(jobId);
        assertEq(escrow.credits(client), COST3, "full refund");
        assertEq(nodes.credits(client), 0.5e18, "penalty = 50% of collateral");
        assertEq(nodes.getNode(prover).stake, 1_000e18 - 0.5e18, "stake slashed");
        assertEq(nodes.getNode(prover).locked, 0, "rest unlocked");
        assertEq(escrow.publishedOpen(prover), 0, "expiry releases the slot");
        assertSolvent();
    }

    function test_publishPrompt_afterTheCommitDeadlineReverts() public {
        // A client that lets a job lapse cannot publish later to restart the clock and collect the
        // missed-commit penalty from a prover that has stopped watching the job.
        uint256 jobId = openJob(3, MAX_OUT);
        uint64 deadline = escrow.getJob(jobId).commitDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.CommitDeadlinePassed.selector, jobId, deadline));
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
        escrow.refundExpired(jobId);
        assertEq(nodes.credits(client), 0, "no penalty");
        assertSolvent();
    }

    function test_publishPrompt_rejectsWrongCallerPromptOrState() public {
        uint256 jobId = openJob(3, MAX_OUT);
        bytes memory other = abi.encodePacked(uint32(1), uint32(2), uint32(3));
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.NotJobClient.selector, jobId, prover));
        vm.prank(prover);
        escrow.publishPrompt(jobId, promptBytes());
        vm.startPrank(client);
        vm.expectRevert(
            abi.encodeWithSelector(JobEscrow.PromptMismatch.selector, jobId, TokenRoot.root(promptBytes(), 0), TokenRoot.root(other, 0))
        );
        escrow.publishPrompt(jobId, other);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidPrompt.selector, jobId, 5));
        escrow.publishPrompt(jobId, hex"0102030405");
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidPrompt.selector, jobId, 0));
        escrow.publishPrompt(jobId, "");
        // A prefix (or any other length) of the committed prompt is refused: the length is fixed.
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidPrompt.selector, jobId, 8));
        escrow.publishPrompt(jobId, abi.encodePacked(uint32(256), uint32(72)));
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidPrompt.selector, jobId, 16));
        escrow.publishPrompt(jobId, abi.encodePacked(promptBytes(), uint32(1)));
        escrow.publishPrompt(jobId, promptBytes());
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.PromptAlreadyPublished.selector, jobId));
        escrow.publishPrompt(jobId, promptBytes());
        vm.stopPrank();
        commit(jobId, 5);
        assertEq(escrow.publishedOpen(prover), 0, "commit releases the slot");
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Committed, IJobEscrow.JobStatus.Open));
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
    }

    function _openWithPrompt(bytes memory prompt) private returns (uint256 jobId) {
        uint32 n = uint32(prompt.length / 4);
        fund(client, uint256(n) * IN_PRICE + uint256(MAX_OUT) * OUT_PRICE);
        IJobEscrow.OpenJobParams memory p = jobParams(prover, n, MAX_OUT);
        p.promptRoot = TokenRoot.root(prompt, 0);
        vm.prank(client);
        jobId = escrow.openJob(p);
    }

    /// @notice The old attack: a client commits to a prompt with an id no model can embed
    /// (0xFFFFFFFF), publishes it, and the honest prover can neither run it nor avoid the
    /// missed-commit penalty. Now publication itself reverts, so the penalty never applies.
    function test_publishPrompt_outOfVocabularyIdCannotForceAPenalty() public {
        bytes memory poisoned = abi.encodePacked(uint32(256), uint32(0xFFFFFFFF), uint32(105));
        uint256 jobId = _openWithPrompt(poisoned);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidTokenId.selector, jobId, 1, uint32(0xFFFFFFFF)));
        vm.prank(client);
        escrow.publishPrompt(jobId, poisoned);

        // The vocabulary is 259 ids: 259 is the first invalid one, 258 the last valid one.
        uint256 edge = _openWithPrompt(abi.encodePacked(uint32(0), uint32(259)));
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InvalidTokenId.selector, edge, 1, uint32(259)));
        vm.prank(client);
        escrow.publishPrompt(edge, abi.encodePacked(uint32(0), uint32(259)));
        uint256 fine = _openWithPrompt(abi.encodePacked(uint32(0), uint32(258)));
        vm.prank(client);
        escrow.publishPrompt(fine, abi.encodePacked(uint32(0), uint32(258)));

        // Unpublished, the poisoned job expires with no penalty: the prover keeps its stake.
        vm.warp(escrow.getJob(jobId).commitDeadline + 1);
        escrow.refundExpired(jobId);
        assertEq(nodes.credits(client), 0, "no penalty");
        assertEq(nodes.getNode(prover).stake, 1_000e18, "stake intact");
        assertSolvent();
    }

    /// @notice A flood of published prompts beyond maxPublishedPerProver reverts; a slot frees
    /// on commit, expiry or decline.
    function test_publishPrompt_floodBeyondCapReverts() public {
        uint256[6] memory ids;
        for (uint256 i; i < 6; ++i) ids[i] = openJob(3, MAX_OUT);
        vm.startPrank(client);
        for (uint256 i; i < 4; ++i) escrow.publishPrompt(ids[i], promptBytes());
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.PublishQueueFull.selector, prover, 4));
        escrow.publishPrompt(ids[4], promptBytes());
        vm.stopPrank();
        assertEq(escrow.publishedOpen(prover), 4, "at the cap");

        commit(ids[0], 1); // commit frees one slot
        vm.prank(client);
        escrow.publishPrompt(ids[4], promptBytes());
        vm.prank(prover);
        escrow.declineJob(ids[1]); // decline frees one
        vm.prank(client);
        escrow.publishPrompt(ids[5], promptBytes());
        assertEq(escrow.publishedOpen(prover), 4, "refilled");

        // Another prover's queue is independent.
        address other = address(0xB0B2);
        registerProver(other, 1_000e18);
        fund(client, COST3);
        vm.prank(client);
        uint256 theirs = escrow.openJob(jobParams(other, 3, MAX_OUT));
        vm.prank(client);
        escrow.publishPrompt(theirs, promptBytes());
        assertEq(escrow.publishedOpen(other), 1, "per prover");
    }

    // ------------------------------------------------------------------ decline

    function test_declineJob_beforePublication_refundsInFullWithoutPenalty() public {
        uint256 jobId = openJob(3, MAX_OUT);
        vm.warp(block.timestamp + 599); // any time while Open and unpublished
        vm.expectEmit(true, true, false, true);
        emit JobEscrow.JobDeclined(jobId, prover, COST3, false);
        vm.prank(prover);
        escrow.declineJob(jobId);
        assertEq(uint8(escrow.getJob(jobId).status), uint8(IJobEscrow.JobStatus.Declined), "status");
        assertEq(escrow.credits(client), COST3, "full refund");
        assertEq(escrow.totalEscrowed(), 0, "released");
        assertEq(nodes.getNode(prover).locked, 0, "unlocked");
        assertEq(nodes.getNode(prover).stake, 1_000e18, "no penalty");
        assertSolvent();
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Declined, IJobEscrow.JobStatus.Open));
        commit(jobId, 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Declined, IJobEscrow.JobStatus.Open));
        escrow.refundExpired(jobId);
    }

    function test_declineJob_withinWindowAfterPublication() public {
        uint256 jobId = openJob(3, MAX_OUT);
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
        vm.warp(escrow.getJob(jobId).declineDeadline); // the last second is still in time
        vm.expectEmit(true, true, false, true);
        emit JobEscrow.JobDeclined(jobId, prover, COST3, true);
        vm.prank(prover);
        escrow.declineJob(jobId);
        assertEq(escrow.publishedOpen(prover), 0, "slot released");
        assertEq(escrow.credits(client), COST3, "full refund");
        assertEq(nodes.credits(client), 0, "no penalty");
        assertEq(nodes.getNode(prover).locked, 0, "unlocked");
        assertSolvent();
    }

    function test_declineJob_revertsAfterWindowOrForOthers() public {
        uint256 jobId = openJob(3, MAX_OUT);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.NotJobProver.selector, jobId, client));
        vm.prank(client);
        escrow.declineJob(jobId);
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
        uint64 deadline = escrow.getJob(jobId).declineDeadline;
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.DeclineWindowClosed.selector, jobId, deadline));
        vm.prank(prover);
        escrow.declineJob(jobId);
        commit(jobId, 2);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Committed, IJobEscrow.JobStatus.Open));
        vm.prank(prover);
        escrow.declineJob(jobId);
    }

    // ------------------------------------------------------------------ dispute hook

    function test_dispute_freezesSettlementUntilResolved() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        assertEq(seq, 1, "first dispute on the job");
        vm.warp(escrow.getJob(jobId).challengeDeadline + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.DisputesOpen.selector, jobId, 1));
        escrow.finalize(jobId);
        escrow.onDisputeResolved(jobId, seq, false, challenger);
        escrow.finalize(jobId);
        assertSolvent();
    }

    function test_dispute_openAllowedOnLastSecondOnly() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint64 deadline = escrow.getJob(jobId).challengeDeadline;
        vm.warp(deadline);
        escrow.onDisputeOpened(jobId, challenger);
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.ChallengeWindowClosed.selector, jobId, deadline));
        escrow.onDisputeOpened(jobId, challenger);
    }

    /// Fraud costs the job's collateral plus half of the prover's remaining free and unbonding
    /// stake, jails it, refunds the client; half the slash is the challenger's reward.
    function test_dispute_faultSlashesStakeShareJailsRefundsAndRewards() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        escrow.onDisputeResolved(jobId, seq, true, challenger);

        // collateral 1e18, then 50% of the 999e18 left: 500.5e18 slashed, half of it rewarded.
        assertEq(uint8(escrow.getJob(jobId).status), uint8(IJobEscrow.JobStatus.Slashed), "slashed");
        assertEq(escrow.credits(client), COST, "client refunded in full");
        assertEq(escrow.credits(prover), 0, "prover unpaid");
        assertEq(nodes.credits(challenger), 250.25e18, "challenger reward");
        assertEq(nodes.credits(treasury), 250.25e18, "treasury remainder");
        assertEq(nodes.getNode(prover).stake, 499.5e18, "collateral and half the rest slashed");
        assertEq(nodes.getNode(prover).locked, 0, "lock released by the slash");
        assertEq(nodes.getNode(prover).jailedUntil, block.timestamp + 7 days, "jailed");
        assertEq(escrow.exposure(prover), 0, "no exposure left");
        assertSolvent();

        fund(client, COST);
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.Jailed.selector, prover, uint64(block.timestamp + 7 days)));
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
        vm.warp(block.timestamp + 7 days);
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }

    /// Unbonding stake does not escape: it is slashed by the same share.
    function test_dispute_faultSlashesUnbondingStakeToo() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        vm.prank(prover);
        nodes.requestUnbond(599e18);
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        escrow.onDisputeResolved(jobId, seq, true, challenger);
        // 1e18 collateral + 50% of 400e18 free + 50% of 599e18 unbonding.
        assertEq(nodes.getNode(prover).stake, 200e18, "free stake halved");
        assertEq(nodes.getNode(prover).unbonding, 299.5e18, "unbonding halved");
        assertEq(nodes.credits(challenger), (1e18 + 200e18 + 299.5e18) / 2, "reward");
        assertSolvent();
    }

    function test_dispute_concurrentDisputesSlashOnce_rewardToTheEarliest() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint32 first = escrow.onDisputeOpened(jobId, challenger);
        uint32 second = escrow.onDisputeOpened(jobId, address(0xBEEF));
        escrow.onDisputeResolved(jobId, first, true, challenger);
        assertEq(nodes.credits(challenger), 0, "held while another dispute is open");
        escrow.onDisputeResolved(jobId, second, true, address(0xBEEF));
        assertEq(nodes.credits(address(0xBEEF)), 0, "second winner gets nothing from the prover twice");
        assertEq(nodes.credits(challenger), 250.25e18, "the earliest-opened dispute is rewarded");
        assertEq(nodes.getNode(prover).stake, 499.5e18, "slashed once");
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.NoOpenDispute.selector, jobId));
        escrow.onDisputeResolved(jobId, first, true, challenger);
        assertSolvent();
    }

    /// The prover's sybil cannot capture the reward by resolving first: whoever opened earliest
    /// (and was still unresolved at the slash) is paid, once every dispute has closed.
    function test_dispute_rewardGoesToEarliestOpenedNotFirstResolved() public {
        address sybil = address(0x5B11);
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint32 honest = escrow.onDisputeOpened(jobId, challenger);
        uint32 late = escrow.onDisputeOpened(jobId, sybil);
        escrow.onDisputeResolved(jobId, late, true, sybil); // the sybil's malformed root proven at once
        assertEq(escrow.slashReward(jobId).held, 250.25e18, "reward held");
        escrow.onDisputeResolved(jobId, honest, false, challenger); // cancelled after the slash
        assertEq(nodes.credits(sybil), 0, "sybil gets nothing");
        assertEq(nodes.credits(challenger), 250.25e18, "earliest dispute paid");
        assertEq(escrow.slashReward(jobId).held, 0, "paid once");
        assertSolvent();
    }

    /// A dispute the prover won before the slash has no claim on the reward.
    function test_dispute_lostBeforeSlashHasNoClaim() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        uint32 early = escrow.onDisputeOpened(jobId, address(0xBEEF));
        escrow.onDisputeResolved(jobId, early, false, address(0xBEEF));
        uint32 later = escrow.onDisputeOpened(jobId, challenger);
        escrow.onDisputeResolved(jobId, later, true, challenger);
        assertEq(nodes.credits(challenger), 250.25e18, "winner paid");
        assertEq(nodes.credits(address(0xBEEF)), 0, "loser paid nothing");
    }

    function test_dispute_hookOnlyForDisputeGame() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 20);
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.NotDisputeGame.selector, challenger));
        vm.prank(challenger);
        escrow.onDisputeOpened(jobId, challenger);
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.NotDisputeGame.selector, challenger));
        vm.prank(challenger);
        escrow.onDisputeResolved(jobId, 1, true, challenger);
    }

    function test_dispute_revertsOnOpenJob() public {
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        vm.expectRevert(
            abi.encodeWithSelector(JobEscrow.WrongStatus.selector, jobId, IJobEscrow.JobStatus.Open, IJobEscrow.JobStatus.Committed)
        );
        escrow.onDisputeOpened(jobId, challenger);
    }

    function test_setDisputeGame_onlyOnce() public {
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.DisputeGameAlreadySet.selector, address(this)));
        escrow.setDisputeGame(address(0x1234));
    }

    function test_availabilityGame_setOnce_andMayUseTheHook() public {
        address av = address(0xA7A1);
        uint256 jobId = openJob(IN_TOK, MAX_OUT);
        commit(jobId, 4);
        vm.prank(av);
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.NotDisputeGame.selector, av));
        escrow.onDisputeOpened(jobId, challenger);
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "availabilityGame"));
        escrow.setAvailabilityGame(address(0));
        escrow.setAvailabilityGame(av);
        assertEq(escrow.availabilityGame(), av, "availability game");
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.AvailabilityGameAlreadySet.selector, av));
        escrow.setAvailabilityGame(address(0x1234));
        vm.prank(av);
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        assertEq(escrow.getJob(jobId).openDisputes, 1, "frozen");
        vm.prank(av);
        escrow.onDisputeResolved(jobId, seq, true, challenger);
        assertEq(uint8(escrow.getJob(jobId).status), uint8(IJobEscrow.JobStatus.Slashed), "slashed");
    }

    function test_setParams_rejectsOutOfBounds() public {
        EscrowParams.Params memory p = defaultParams();
        p.feeBps = 1_001;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "feeBps"));
        escrow.setParams(p);
        p = defaultParams();
        p.challengeWindow = 59;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "challengeWindow"));
        escrow.setParams(p);
        p = defaultParams();
        p.declineWindow = 0;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "declineWindow"));
        escrow.setParams(p);
        p.declineWindow = p.commitTimeout + 1;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "declineWindow"));
        escrow.setParams(p);
        p = defaultParams();
        p.maxPublishedPerProver = 0;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "maxPublishedPerProver"));
        escrow.setParams(p);
        p.maxPublishedPerProver = 65;
        vm.expectRevert(abi.encodeWithSelector(EscrowParams.InvalidParams.selector, "maxPublishedPerProver"));
        escrow.setParams(p);
    }

    function test_setParams_onlyGovernance() public {
        EscrowParams.Params memory p = defaultParams();
        vm.expectRevert();
        vm.prank(client);
        escrow.setParams(p);
    }

    function test_withdraw_revertsWithNothingOwed() public {
        vm.expectRevert(abi.encodeWithSelector(CreditLedger.NothingToWithdraw.selector, client));
        vm.prank(client);
        escrow.withdraw();
    }

    // ------------------------------------------------------------------ fuzz

    /// @notice For any prices and counts, the three payouts add up to the escrow exactly and
    /// the fee never exceeds its rate.
    function testFuzz_finalize_payoutsSumToEscrow(uint128 inPrice, uint128 outPrice, uint32 inTok, uint32 maxOut, uint32 outTok, uint16 feeBps)
        public
    {
        inPrice = uint128(bound(inPrice, 0, 1e24));
        outPrice = uint128(bound(outPrice, 0, 1e24));
        inTok = uint32(bound(inTok, 1, 256));
        maxOut = uint32(bound(maxOut, 1, 256));
        outTok = uint32(bound(outTok, 1, maxOut));
        EscrowParams.Params memory p = defaultParams();
        p.feeBps = uint16(bound(feeBps, 0, 1_000));
        escrow.setParams(p);
        vm.prank(prover);
        nodes.setOffer(MODEL, inPrice, outPrice);
        fund(prover, 1e30);
        vm.prank(prover);
        nodes.topUp(1e30);

        uint256 cost = uint256(inTok) * inPrice + uint256(maxOut) * outPrice;
        fund(client, cost);
        IJobEscrow.OpenJobParams memory params = jobParams(prover, inTok, maxOut);
        params.inputPrice = inPrice;
        params.outputPrice = outPrice;
        vm.prank(client);
        uint256 jobId = escrow.openJob(params);
        commit(jobId, outTok);
        vm.warp(block.timestamp + 3601);
        escrow.finalize(jobId);

        uint256 earned = uint256(inTok) * inPrice + uint256(outTok) * outPrice;
        assertEq(escrow.credits(prover) + escrow.credits(treasury) + escrow.credits(client) + escrow.auditPool(), cost, "sum");
        assertLe(escrow.credits(treasury), earned * p.feeBps / 10_000, "fee rate");
        assertLe(escrow.auditPool(), earned * 500 / 10_000, "audit fee rate");
        assertEq(escrow.credits(client), cost - earned, "refund");
        assertSolvent();
    }
}
