// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VoucherFixture} from "./VoucherFixture.sol";
import {vm} from "../utils/Vm.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {BatchCourt} from "../../../contracts/vouchers/BatchCourt.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Deposits, vouchers, batches and batch disputes (PROTOCOL §5.8). Each attack a
/// cheating prover or client could try has a test that the contracts refuse it.
contract VouchersTest is VoucherFixture {
    function setUp() public {
        setUpVouchers();
        depositFor(clientA, 1e18);
        depositFor(clientB, 1e18);
    }

    function honestBatch() internal view returns (Built memory) {
        return build(two(clientA, clientB), counts2(3, 2), nonces2(0, 0), 4);
    }

    // ------------------------------------------------------------------ commit and claim

    function test_commitAndClaim_paysExactlyTheLeavesCharges() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        uint256 perJob = uint256(V_IN) * IN_PRICE + 4 * uint256(OUT_PRICE);
        assertEq(b.header.total, 5 * perJob, "total = sum of leaf charges");
        assertEq(vouchers.account(clientA, prover).balance, 1e18 - 3 * perJob, "A debited its three jobs");
        assertEq(vouchers.account(clientB, prover).balance, 1e18 - 2 * perJob, "B debited its two jobs");
        assertEq(vouchers.account(clientA, prover).nextNonce, 3, "A's nonce advanced past its last");
        assertVoucherSolvent(two(clientA, clientB));

        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.ChallengeWindowOpen.selector, vouchers.batchIdOf(prover, 0), b.header.challengeDeadline));
        vouchers.claimBatch(b.header);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        uint256 fee = b.header.total * 250 / 10_000;
        uint256 auditFee = b.header.total * 500 / 10_000;
        assertEq(vouchers.book(prover).earned, b.header.total - fee - auditFee, "prover paid total less fees");
        assertEq(vouchers.book(prover).exposure, 0, "exposure released");
        assertVoucherSolvent(two(clientA, clientB));

        // Fees reach the treasury (credit) and the JobEscrow's audit pool.
        uint256 poolBefore = escrow.auditPool();
        vouchers.sweepFees();
        assertEq(escrow.auditPool(), poolBefore + auditFee, "audit fees in the audit pool");
        assertEq(vouchers.credits(treasury), fee, "treasury credited");
        uint256 before = token.balanceOf(prover);
        vm.prank(prover);
        vouchers.withdrawEarnings();
        assertEq(token.balanceOf(prover), before + b.header.total - fee - auditFee, "prover withdrew");
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_claim_twice_reverts() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.UnknownBatch.selector, vouchers.batchIdOf(prover, 0), bytes32(uint256(1))));
        vouchers.claimBatch(b.header);
    }

    function test_slotReuse_afterClaim_andBusyWhileLive() public {
        Built memory b = honestBatch();
        commitBuilt(b, 7);
        Built memory next = build(one(clientA), counts1(1), nonces1(3), 2);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.BatchSlotBusy.selector, vouchers.batchIdOf(prover, 7)));
        commitBuilt(next, 7);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        commitBuilt(next, 7);
        assertEq(vouchers.batchHash(vouchers.batchIdOf(prover, 7)), keccak256(abi.encode(next.header)), "slot reused");
    }

    // ------------------------------------------------------------------ double spend and maxima

    function test_voucherNonce_cannotBeChargedTwice() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        // The same vouchers in a second batch: the account's nonce is already past them.
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.NonceReused.selector, clientA, uint64(0), uint64(3)));
        commitBuilt(b, 1);
    }

    function testFuzz_debitNeverExceedsDeposit(uint128 deposit, uint32 outTok) public {
        outTok = uint32(bound(outTok, 1, V_MAX_OUT));
        uint256 perJob = uint256(V_IN) * IN_PRICE + uint256(outTok) * OUT_PRICE;
        address c = vm.addr(0xC0FFEE);
        deposit = uint128(bound(deposit, 1, 10 * perJob));
        fundVouchers(c, deposit);
        vm.prank(c);
        vouchers.deposit(prover, deposit);
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](1);
        d[0] = IVoucherEscrow.Debit({client: c, firstNonce: 0, lastNonce: 2, count: 3, amount: uint128(3 * perJob)});
        vm.prank(prover);
        if (3 * perJob > deposit) {
            vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientDeposit.selector, c, prover, uint256(deposit), 3 * perJob));
            vouchers.commitBatch(0, keccak256("root"), 3, d);
        } else {
            vouchers.commitBatch(0, keccak256("root"), 3, d);
            assertEq(vouchers.account(c, prover).balance, deposit - 3 * perJob, "debited exactly");
        }
    }

    function test_commit_refusesMalformedDebits() public {
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](1);
        // Three leaves cannot carry strictly increasing nonces within [0, 1].
        d[0] = IVoucherEscrow.Debit({client: clientA, firstNonce: 0, lastNonce: 1, count: 3, amount: 1});
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InvalidDebit.selector, uint256(0)));
        vouchers.commitBatch(0, keccak256("root"), 3, d);
        d[0] = IVoucherEscrow.Debit({client: clientA, firstNonce: 0, lastNonce: 4, count: 3, amount: 1});
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.LeafCountMismatch.selector, uint256(3), uint32(4)));
        vouchers.commitBatch(0, keccak256("root"), 4, d);
    }

    function test_commit_needsReserve() public {
        address poor = address(0xBEEF);
        registerProver(poor, 100e18);
        address c = vm.addr(0xC0FFEE);
        fundVouchers(c, 1e18);
        vm.prank(c);
        vouchers.deposit(poor, 1e18);
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](1);
        d[0] = IVoucherEscrow.Debit({client: c, firstNonce: 0, lastNonce: 0, count: 1, amount: 1e15});
        vm.prank(poor);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientReserve.selector, poor, uint256(2e15), uint256(0)));
        vouchers.commitBatch(0, keccak256("root"), 1, d);
    }

    // ------------------------------------------------------------------ withdrawals

    function test_withdrawal_needsNoticeAndLeavesCommittedDebits() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        vm.prank(clientA);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.NoWithdrawalRequested.selector, clientA, prover));
        vouchers.withdrawDeposit(prover, 1);
        vm.prank(clientA);
        vouchers.requestWithdrawal(prover);
        uint64 at = vouchers.account(clientA, prover).withdrawableAt;
        vm.prank(clientA);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.WithdrawalNotReady.selector, clientA, prover, at));
        vouchers.withdrawDeposit(prover, 1);
        vm.warp(at);
        uint128 left = vouchers.account(clientA, prover).balance;
        vm.prank(clientA);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientDeposit.selector, clientA, prover, uint256(left), uint256(left) + 1));
        vouchers.withdrawDeposit(prover, left + 1);
        uint256 before = token.balanceOf(clientA);
        vm.prank(clientA);
        vouchers.withdrawDeposit(prover, left);
        assertEq(token.balanceOf(clientA), before + left, "unused deposit recovered");
        // The committed batch still pays the prover.
        vouchers.claimBatch(b.header);
        assertVoucherSolvent(two(clientA, clientB));
    }

    // ------------------------------------------------------------------ moving a job to a dispute

    function test_adoptedJob_isDisputable_whileRestOfBatchIsClaimed() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        uint256 jobId = court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(1, 3, b.leaves[3], proof(b.hashes, 3)), BatchCourt.SignedVoucher(b.vouchers[3], b.signatures[3]));
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        uint256 charge = chargeOf(b.leaves[3]);
        assertEq(uint8(job.status), uint8(IJobEscrow.JobStatus.Committed), "committed in the JobEscrow");
        assertEq(job.client, clientB, "client");
        assertEq(job.traceRoot, b.leaves[3].traceRoot, "trace root");
        assertEq(job.escrowed, charge, "escrow = the leaf's charge");
        assertEq(job.collateral, uint256(b.header.collateral) * charge / b.header.total, "proportional collateral");
        assertVoucherSolvent(two(clientA, clientB));

        // The header is unchanged; the batch now charges the rest. The job is disputed in the
        // JobEscrow (this test is the game).
        uint256 rest = b.header.total - charge;
        nextBlockWithHash(bytes32(0));
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        assertEq(vouchers.book(prover).earned, rest - rest * 250 / 10_000 - rest * 500 / 10_000, "rest paid");
        vm.expectRevert(abi.encodeWithSelector(IJobEscrowErrors.DisputesOpen.selector, jobId, uint32(1)));
        vm.warp(job.challengeDeadline + 1);
        escrow.finalize(jobId);
        // Fraud proven: the client gets the job's charge back, the prover is slashed.
        escrow.onDisputeResolved(jobId, seq, true, challenger);
        assertEq(uint8(escrow.getJob(jobId).status), uint8(IJobEscrow.JobStatus.Slashed), "slashed");
        assertEq(escrow.credits(clientB), charge, "client refunded its job");
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_adopt_refusesForgedLeafAndTwice() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        // A copy (memory structs alias on assignment).
        IVoucherEscrow.JobLeaf memory forged = abi.decode(abi.encode(b.leaves[0]), (IVoucherEscrow.JobLeaf));
        forged.traceRoot = keccak256("another trace");
        vm.expectRevert();
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(0, 0, forged, proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        // A leaf of entry 0 claimed under entry 1.
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.LeafOutsideEntry.selector, uint32(0), uint256(1)));
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(1, 0, b.leaves[0], proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        // Another job's voucher does not back this leaf.
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.VoucherMismatch.selector, uint32(0), "voucherHash"));
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(0, 0, b.leaves[0], proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[1], b.signatures[1]));
        uint256 jobId = court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(0, 0, b.leaves[0], proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        bytes32 instance = vouchers.instanceOf(prover, b.header.debitsHash);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.AlreadyAdopted.selector, instance, uint32(0), jobId));
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(0, 0, b.leaves[0], proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
    }

    // ------------------------------------------------------------------ leaf challenges

    function test_challenge_answeredWithVoucher_paysFeeToProver() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        fundVouchers(challenger, CHALLENGE_FEE);
        // Challenged late in the window: the answer window outlasts the challenge deadline.
        vm.warp(b.header.challengeDeadline - 100);
        vm.prank(challenger);
        court.challengeLeaf(b.header, 4);
        vm.warp(b.header.challengeDeadline + 1);
        bytes32 batchId = vouchers.batchIdOf(prover, 0);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.ChallengesOpen.selector, batchId, uint32(1)));
        vouchers.claimBatch(b.header);
        court.answerLeaf(b.header, b.debits, 1, b.leaves[4], 4, proof(b.hashes, 4), b.vouchers[4], b.signatures[4]);
        assertEq(court.credits(prover), CHALLENGE_FEE, "fee to the prover");
        // The revealed voucher keeps the job movable for one answer window; the claim waits.
        uint64 until = uint64(block.timestamp) + 600;
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.HeldUntil.selector, batchId, until));
        vouchers.claimBatch(b.header);
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(1, 4, b.leaves[4], proof(b.hashes, 4)), BatchCourt.SignedVoucher(b.vouchers[4], b.signatures[4]));
        vm.warp(until + 1);
        vouchers.claimBatch(b.header);
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_unanswered_voidsBatch_refundsClients_slashesProver() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        uint128 aBefore = vouchers.account(clientA, prover).balance + b.debits[0].amount;
        fundVouchers(challenger, CHALLENGE_FEE);
        vm.prank(challenger);
        court.challengeLeaf(b.header, 1);
        vm.warp(block.timestamp + 601);
        uint256 stakeBefore = nodes.getNode(prover).stake;
        court.voidUnanswered(b.header, b.debits, 1);
        assertEq(vouchers.account(clientA, prover).balance, aBefore, "client refunded to its deposit");
        assertEq(vouchers.book(prover).exposure, 0, "nothing charged");
        assertTrue(nodes.getNode(prover).stake < stakeBefore, "prover slashed");
        assertTrue(nodes.getNode(prover).jailedUntil > block.timestamp, "prover jailed");
        assertTrue(nodes.credits(challenger) > 0, "challenger rewarded");
        assertEq(court.credits(challenger), CHALLENGE_FEE, "fee refunded");
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_answer_refusesVoucherThatDoesNotAllowTheCharge() public {
        // A leaf billing more outputs than the voucher allows cannot be answered.
        Built memory b = honestBatch();
        b.leaves[2].outputTokens = V_MAX_OUT + 1;
        b.leaves[2].cumulative = b.leaves[1].cumulative + uint128(chargeOf(b.leaves[2]));
        b.debits[0].amount = b.leaves[2].cumulative;
        rehash(b);
        commitBuilt(b, 0);
        fundVouchers(challenger, CHALLENGE_FEE);
        vm.prank(challenger);
        court.challengeLeaf(b.header, 2);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.VoucherMismatch.selector, uint32(2), "outputTokens"));
        court.answerLeaf(b.header, b.debits, 0, b.leaves[2], 2, proof(b.hashes, 2), b.vouchers[2], b.signatures[2]);
        // A voucher signed by someone else does not answer either.
        bytes memory forged = sign(0xBAD, b.leaves[2].voucherHash);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.BadVoucherSignature.selector, uint32(2), clientA));
        court.answerLeaf(b.header, b.debits, 0, b.leaves[2], 2, proof(b.hashes, 2), b.vouchers[2], forged);
        vm.warp(block.timestamp + 601);
        court.voidUnanswered(b.header, b.debits, 2);
        assertVoucherSolvent(two(clientA, clientB));
    }

    // ------------------------------------------------------------------ miscounts

    function test_neighbourMiscount_voids_honestBatchHasNone() public {
        Built memory b = honestBatch();
        commitBuilt(b, 0);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.NoMiscount.selector, uint32(0)));
        court.proveNeighbourMiscount(b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0), b.leaves[1], proof(b.hashes, 1));
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.NoMiscount.selector, uint32(2)));
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[2], 2, proof(b.hashes, 2));

        // A prover that bills a client twice for one voucher (repeated nonce) inside a batch.
        Built memory c = build(one(clientA), counts1(2), nonces1(3), 4);
        c.leaves[1].nonce = c.leaves[0].nonce;
        c.leaves[1].voucherHash = c.leaves[0].voucherHash;
        rehash(c);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        commitBuilt(c, 1);
        court.proveNeighbourMiscount(c.header, c.debits, 0, c.leaves[0], 0, proof(c.hashes, 0), c.leaves[1], proof(c.hashes, 1));
        assertEq(vouchers.batchHash(vouchers.batchIdOf(prover, 1)), bytes32(uint256(1)), "voided");
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_leafMiscount_totalAboveLeaves_voids() public {
        // The debit claims more than the leaves' running total reaches.
        Built memory b = honestBatch();
        b.debits[1].amount += 1;
        commitBuilt(b, 0);
        court.proveLeafMiscount(b.header, b.debits, 1, b.leaves[4], 4, proof(b.hashes, 4));
        assertEq(vouchers.account(clientB, prover).balance, 1e18, "B fully refunded");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Attack (found while writing §5.8): after a job of batch X was adopted and X voided, the
    /// prover recommits X's root into the same slot with a smaller debit, hoping the old
    /// adoption record makes the void's refund underflow so the batch cannot be voided.
    function test_replayedRoot_doesNotInheritOldAdoptions() public {
        Built memory b = honestBatch();
        b.debits[1].amount += 1; // provably wrong
        commitBuilt(b, 0);
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(1, 3, b.leaves[3], proof(b.hashes, 3)), BatchCourt.SignedVoucher(b.vouchers[3], b.signatures[3]));
        court.proveLeafMiscount(b.header, b.debits, 1, b.leaves[4], 4, proof(b.hashes, 4));
        // Replay: same root, same slot, fresh nonces, tiny debits.
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](2);
        d[0] = IVoucherEscrow.Debit({client: clientA, firstNonce: 3, lastNonce: 5, count: 3, amount: 1});
        d[1] = IVoucherEscrow.Debit({client: clientB, firstNonce: 2, lastNonce: 3, count: 2, amount: 1});
        vm.warp(block.timestamp + 8 days); // the jail from the first void has passed
        vm.prank(prover);
        vouchers.commitBatch(0, root(b.hashes), 5, d);
        Built memory r = b;
        r.debits = d;
        r.header = headerOf(r, 0);
        // The replayed leaves' nonces do not match the new debits: provable, and the void works.
        court.proveLeafMiscount(r.header, d, 0, b.leaves[0], 0, proof(b.hashes, 0));
        assertVoucherSolvent(two(clientA, clientB));
    }
}

/// The JobEscrow error used above, by selector.
interface IJobEscrowErrors {
    error DisputesOpen(uint256 jobId, uint32 openDisputes);
}
