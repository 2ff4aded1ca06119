// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PublicationFixture} from "./PublicationFixture.sol";
import {vm} from "../utils/Vm.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {VoucherPublication} from "../../../contracts/vouchers/VoucherPublication.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";

/// @notice Voucher publication (PROTOCOL §5.8 "Publication"): a client makes a voucher its
/// prover ignores undeniable; the prover answers with the voucher's leaf in a batch committed
/// by the deadline, declines in time, or pays the penalty. The attacks each party would try
/// against the rules are at the end.
contract VoucherPublicationTest is PublicationFixture {

    function expectPublishRevert(IVoucherEscrow.Voucher memory v, bytes memory sig, bytes memory prompt, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(v.client);
        publication.publish(v, sig, prompt);
    }

    /// The batch of clientA's jobs with nonces [first, first + count), committed into `slot`.
    function commitA(uint64 first, uint32 count, uint64 slot) internal returns (Built memory b) {
        b = build(one(clientA), counts1(count), nonces1(first), 5);
        commitBuilt(b, slot);
    }

    // ------------------------------------------------------------------ the normal paths

    function test_publish_holdsThePenalty_answerReleasesIt() public {
        uint128 heldBefore = vouchers.reserveOf(prover).held;
        // The prover's batch carries the very voucher published (built now: same expiry).
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        VoucherPublication.Publication memory pub = publication.publicationOf(h);
        assertEq(uint256(pub.status), uint256(VoucherPublication.Status.Open), "open");
        assertEq(pub.deadline, uint64(block.timestamp) + 600, "deadline");
        assertEq(pub.penalty, PENALTY, "penalty = collateral share of the maximum charge");
        assertEq(vouchers.reserveOf(prover).held, heldBefore + PENALTY, "penalty held in the reserve");
        assertEq(publication.openOf(prover, clientA), 1, "open count");

        vm.warp(block.timestamp + 300);
        commitBuilt(b, 0);
        answerWith(h, b, 0);
        pub = publication.publicationOf(h);
        assertEq(uint256(pub.status), uint256(VoucherPublication.Status.Answered), "answered");
        assertEq(vouchers.reserveOf(prover).held, b.header.collateral, "only the batch's collateral stays held");
        assertEq(publication.openOf(prover, clientA), 0, "closed");
        // The answered voucher's batch settles as any other.
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        assertVoucherSolvent(two(clientA, clientB));
    }

    function test_missedDeadline_paysTheClientFromTheReserve() public {
        bytes32 h = publishAs(clientA, 0);
        VoucherPublication.Publication memory pub = publication.publicationOf(h);
        uint64 claimableAfter = pub.deadline + voucherParams().answerWindow;
        vm.warp(claimableAfter);
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.DeadlineNotPassed.selector, h, claimableAfter));
        publication.claimMissed(h);

        INodeRegistry.Node memory before = nodes.getNode(prover);
        IVoucherEscrow.Reserve memory r0 = vouchers.reserveOf(prover);
        vm.warp(claimableAfter + 1);
        vm.prank(GRIEFER_OR_ANYONE);
        publication.claimMissed(h);
        assertEq(nodes.credits(clientA), PENALTY, "client credited the penalty");
        INodeRegistry.Node memory afterwards = nodes.getNode(prover);
        assertEq(afterwards.stake, before.stake - PENALTY, "stake slashed by the penalty alone");
        assertEq(afterwards.locked, before.locked - PENALTY, "from the reserve's locked stake");
        assertEq(afterwards.jailedUntil, before.jailedUntil, "a miss is not fraud: no jail");
        IVoucherEscrow.Reserve memory r1 = vouchers.reserveOf(prover);
        assertEq(r1.reserved, r0.reserved - PENALTY, "reserve shrinks");
        assertEq(r1.held, r0.held - PENALTY, "hold ends");
        assertEq(uint256(publication.publicationOf(h).status), uint256(VoucherPublication.Status.Missed), "missed");
        // Once: a second claim, or a late answer, finds nothing open.
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.NotOpen.selector, h, VoucherPublication.Status.Missed));
        publication.claimMissed(h);
        // The client's deposit is untouched and recoverable.
        assertEq(vouchers.account(clientA, prover).balance, 1e18, "deposit untouched");
        assertVoucherSolvent(two(clientA, clientB));
    }

    address internal constant GRIEFER_OR_ANYONE = address(0xA11);

    function test_decline_inTheWindow_noPenalty_onlyByTheProver() public {
        bytes32 h = publishAs(clientA, 0);
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.NotProver.selector, clientA, prover));
        vm.prank(clientA);
        publication.decline(h);
        uint256 stake = nodes.getNode(prover).stake;
        vm.prank(prover);
        publication.decline(h);
        assertEq(uint256(publication.publicationOf(h).status), uint256(VoucherPublication.Status.Declined), "declined");
        assertEq(nodes.getNode(prover).stake, stake, "no penalty");
        assertEq(vouchers.reserveOf(prover).held, 0, "hold released");

        bytes32 h2 = publishAs(clientA, 1);
        uint64 closes = publication.publicationOf(h2).declineDeadline;
        vm.warp(closes + 1);
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.DeclineWindowClosed.selector, h2, closes));
        vm.prank(prover);
        publication.decline(h2);
    }

    // ------------------------------------------------------------------ what cannot be published

    function test_publish_refusesWhatTheProverCouldNotServe() public {
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        // Someone else than the client.
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.NotVoucherClient.selector, clientB, clientA));
        vm.prank(clientB);
        publication.publish(v, sig, promptBytes());
        // A signature by another key.
        expectPublishRevert(v, sign(CLIENT_B_KEY, vouchers.voucherDigest(v)), promptBytes(), abi.encodeWithSelector(VoucherPublication.BadVoucherSignature.selector, clientA));
        // Not the prompt the voucher names, or an id outside the vocabulary.
        bytes memory other = abi.encodePacked(uint32(256), uint32(72), uint32(106));
        expectPublishRevert(v, sig, other, abi.encodeWithSelector(VoucherPublication.PromptMismatch.selector, v.promptRoot, TokenRoot.root(other, 0)));
        bytes memory outside = abi.encodePacked(uint32(256), uint32(72), uint32(1_000_000));
        expectPublishRevert(v, sig, outside, abi.encodeWithSelector(VoucherPublication.InvalidTokenId.selector, 2, uint32(1_000_000)));
        expectPublishRevert(v, sig, hex"00000001", abi.encodeWithSelector(VoucherPublication.InvalidPrompt.selector, 4, V_IN));
        // Prices other than the prover's offer.
        IVoucherEscrow.Voucher memory cheap = voucherFor(clientA, 0);
        cheap.outputPrice = OUT_PRICE - 1;
        expectPublishRevert(cheap, sign(CLIENT_A_KEY, vouchers.voucherDigest(cheap)), promptBytes(), abi.encodeWithSelector(VoucherPublication.PriceMismatch.selector, IN_PRICE, OUT_PRICE, IN_PRICE, OUT_PRICE - 1));
        // Expiring before the deadline.
        IVoucherEscrow.Voucher memory soon = voucherFor(clientA, 0);
        soon.expiry = uint64(block.timestamp + 599);
        expectPublishRevert(soon, sign(CLIENT_A_KEY, vouchers.voucherDigest(soon)), promptBytes(), abi.encodeWithSelector(VoucherPublication.ExpiresBeforeDeadline.selector, soon.expiry, uint64(block.timestamp + 600)));
        // More than the deposit covers (the client withdrew all but 1e13 before publishing).
        vm.prank(clientA);
        vouchers.requestWithdrawal(prover);
        vm.warp(block.timestamp + 1 days);
        vm.prank(clientA);
        vouchers.withdrawDeposit(prover, 1e18 - 1e13);
        (IVoucherEscrow.Voucher memory late, bytes memory lateSig) = signed(clientA, 0);
        expectPublishRevert(late, lateSig, promptBytes(), abi.encodeWithSelector(VoucherPublication.DepositTooLow.selector, uint256(1e13), uint256(MAX_CHARGE)));
    }

    function test_publish_refusesSpentNonce_pendingWithdrawal_replay_fullQueue() public {
        commitA(0, 2, 0); // nonces 0 and 1 are charged
        (IVoucherEscrow.Voucher memory v0, bytes memory s0) = signed(clientA, 1);
        expectPublishRevert(v0, s0, promptBytes(), abi.encodeWithSelector(VoucherPublication.NonceSpent.selector, uint64(1), uint64(2)));

        bytes32 h = publishAs(clientA, 2);
        (IVoucherEscrow.Voucher memory v2, bytes memory s2) = signed(clientA, 2);
        expectPublishRevert(v2, s2, promptBytes(), abi.encodeWithSelector(VoucherPublication.AlreadyPublished.selector, h, VoucherPublication.Status.Open));

        // A withdrawal that could execute before the deadline.
        vm.prank(clientB);
        vouchers.requestWithdrawal(prover);
        vm.warp(block.timestamp + 1 days - 300);
        (IVoucherEscrow.Voucher memory vb, bytes memory sb) = signed(clientB, 0);
        uint64 at = vouchers.account(clientB, prover).withdrawableAt;
        expectPublishRevert(vb, sb, promptBytes(), abi.encodeWithSelector(VoucherPublication.WithdrawalBeforeDeadline.selector, at, uint64(block.timestamp + 600)));

        // The queue: at most maxOpenPerClient (4) open per client and prover.
        publishAs(clientA, 3);
        publishAs(clientA, 4);
        publishAs(clientA, 5);
        (IVoucherEscrow.Voucher memory v6, bytes memory s6) = signed(clientA, 6);
        expectPublishRevert(v6, s6, promptBytes(), abi.encodeWithSelector(VoucherPublication.QueueFull.selector, prover, clientA, uint256(4)));
    }

    function test_publish_needsReserveToHoldThePenalty() public {
        // The prover frees every unheld unit of its reserve: no penalty can be held, so nothing
        // can be published (and no batch committed either: the same reserve backs both).
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        vm.prank(prover);
        vouchers.release(r.reserved - r.held);
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        // Needed: the penalty, plus the voucher's own batch collateral left free beside it.
        uint256 need = uint256(PENALTY) + uint256(MAX_CHARGE) * 20_000 / 10_000;
        expectPublishRevert(v, sig, promptBytes(), abi.encodeWithSelector(VoucherEscrow.InsufficientReserve.selector, prover, need, uint256(0)));
    }

    function test_setParams_bounds() public {
        VoucherPublication.Params memory p = publicationParams();
        p.declineWindow = p.publishTimeout;
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.InvalidParams.selector, "declineWindow"));
        publication.setParams(p);
        p = publicationParams();
        p.publishTimeout = 59;
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.InvalidParams.selector, "publishTimeout"));
        publication.setParams(p);
        vm.expectRevert();
        vm.prank(clientA);
        publication.setParams(publicationParams());
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.NotPublication.selector, address(this)));
        vouchers.holdReserve(prover, 1, 0);
    }

    // ------------------------------------------------------------------ attacks

    /// The client publishes, then tries to take its deposit back so the prover's debit fails and
    /// the prover pays the penalty for a voucher it could not charge: the withdrawal waits out
    /// the notice, far past the deadline, and the prover's batch lands.
    function test_attack_clientWithdrawsAfterPublishing() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        vm.prank(clientA);
        vouchers.requestWithdrawal(prover);
        uint64 at = vouchers.account(clientA, prover).withdrawableAt;
        assertLe(publication.publicationOf(h).deadline + voucherParams().answerWindow + 1, at, "withdrawal after the claim time");
        vm.warp(block.timestamp + 500);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.WithdrawalNotReady.selector, clientA, prover, at));
        vm.prank(clientA);
        vouchers.withdrawDeposit(prover, 1e18);
        commitBuilt(b, 0);
        answerWith(h, b, 0);
        assertEq(uint256(publication.publicationOf(h).status), uint256(VoucherPublication.Status.Answered), "answered");
    }

    /// The prover answers with a leaf of another voucher, with its batch committed after the
    /// deadline, or after skipping the published nonce: none closes the publication.
    function test_attack_proverAnswersWithoutServingTheVoucher() public {
        bytes32 h = publishAs(clientA, 0);
        // Skips nonce 0: commits nonces 1..2 only. Nonce 0 can never be charged now.
        Built memory b = commitA(1, 2, 0);
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.WrongLeaf.selector, h, b.leaves[0].voucherHash));
        answerWith(h, b, 0);
        // A forged leaf carrying the published hash is not in the committed tree.
        IVoucherEscrow.JobLeaf memory forged = b.leaves[0];
        forged.voucherHash = h;
        vm.expectRevert();
        publication.answer(h, b.header, b.debits, 0, forged, 0, proof(b.hashes, 0));
        // The penalty is claimable once the deadline and one answer window have passed.
        vm.warp(publication.publicationOf(h).deadline + voucherParams().answerWindow + 1);
        publication.claimMissed(h);
        assertEq(nodes.credits(clientA), PENALTY, "the skipped client is paid");
    }

    function test_attack_lateBatchDoesNotAnswer() public {
        bytes32 h = publishAs(clientB, 0);
        uint64 deadline = publication.publicationOf(h).deadline;
        vm.warp(deadline + 1);
        Built memory b = build(one(clientB), counts1(1), nonces1(0), 5);
        commitBuilt(b, 0);
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.WrongBatch.selector, h, prover, b.header.committedAt));
        answerWith(h, b, 0);
    }

    /// The prover tries to move the held penalty out of reach before the deadline.
    function test_attack_proverReleasesHeldPenalty() public {
        publishAs(clientA, 0);
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientReserve.selector, prover, uint256(r.reserved) + 1, r.reserved));
        vm.prank(prover);
        vouchers.release(r.reserved - r.held + 1);
    }

    /// A fraud void of another batch takes the fraud share of the idle reserve, never the
    /// held penalty: the client of an open publication is still paid in full.
    function test_attack_voidDoesNotEatTheHeldPenalty() public {
        bytes32 h = publishAs(clientA, 0);
        // A batch of clientB's whose only leaf's challenge goes unanswered: voided.
        Built memory b = build(one(clientB), counts1(1), nonces1(0), 5);
        commitBuilt(b, 1);
        fundVouchers(GRIEFER_OR_ANYONE, CHALLENGE_FEE);
        vm.prank(GRIEFER_OR_ANYONE);
        court.challengeLeaf(b.header, 0);
        vm.warp(block.timestamp + voucherParams().answerWindow + 1);
        court.voidUnanswered(b.header, b.debits, 0);
        assertLe(vouchers.reserveOf(prover).held, vouchers.reserveOf(prover).reserved, "held within reserved");
        vm.warp(publication.publicationOf(h).deadline + voucherParams().answerWindow + 1);
        publication.claimMissed(h);
        assertEq(nodes.credits(clientA), PENALTY, "the penalty survived the void");
        assertVoucherSolvent(two(clientA, clientB));
    }
}
