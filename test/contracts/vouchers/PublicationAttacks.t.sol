// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PublicationFixture} from "./PublicationFixture.sol";
import {vm} from "../utils/Vm.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {VoucherParams} from "../../../contracts/vouchers/VoucherParams.sol";
import {BatchCourt} from "../../../contracts/vouchers/BatchCourt.sol";
import {VoucherPublication} from "../../../contracts/vouchers/VoucherPublication.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";

/// @notice Attack review of voucher publication (PROTOCOL §5.8 "Publication").
///
/// `test_hole_*`   holes the review found in the first version, each fixed as its comment
///                 proposes (per-client queue, active offer and non-zero penalty, no maximal
///                 nonce, collateral headroom beside the hold, deposit locked to the deadline,
///                 the answering leaf inside the client's debit at its nonce): each asserts the
///                 safe behaviour and fails if the hole reopens.
/// `test_defeated_*` attacks the contracts already stop: regressions, they pass.
/// `test_residual_*` behaviour by design (documented or a deliberate trade-off), pinned as is:
///                 they pass.
contract PublicationAttacksTest is PublicationFixture {
    address internal constant ANYONE = address(0xA11);
    uint256 internal constant GRIEFER_KEY = 0x6121EF;

    // ------------------------------------------------------------------ helpers

    /// Publish, reporting a revert instead of propagating it.
    function tryPublish(IVoucherEscrow.Voucher memory v, bytes memory sig) internal returns (bool ok, bytes32 h) {
        vm.prank(v.client);
        try publication.publish(v, sig, promptBytes()) returns (bytes32 got) {
            return (true, got);
        } catch {
            return (false, bytes32(0));
        }
    }

    function claimableAfter(bytes32 h) internal view returns (uint256) {
        return publication.publicationOf(h).deadline + vouchers.params().answerWindow;
    }

    function idle() internal view returns (uint256) {
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        return r.reserved - r.held;
    }

    function setCollateralBps(uint32 bps) internal {
        VoucherParams.Params memory p = vouchers.params();
        p.collateralBps = bps;
        vouchers.setParams(p, CHALLENGE_FEE);
    }

    // ================================================================== HOLES (fail today)

    /// HOLE 1 — one shared queue per prover. `maxOpenPerProver` counts every client's open
    /// publications together, so a sybil client (4 tiny vouchers, a deposit it keeps) fills it
    /// and every other client's `publish` reverts `QueueFull`. A griefer pays gas only (the
    /// prover declines, the sybil re-publishes with a fresh expiry, i.e. a fresh hash). Worse,
    /// the sybil may be the PROVER's own client account: it never declines, the penalties of
    /// its own misses are slashed from its stake and credited back to itself (net zero), and
    /// the queue stays full for good — the penalty it owes real clients is opt-out.
    /// Fix: count open publications per (client, prover) (`openOf[prover][client]`), not per
    /// prover; the work bound then is per client (each needs a covering deposit) and decline
    /// stays the prover's cheap exit.
    function test_hole_sybilFillsTheProversQueue_blocksEveryOtherClient() public {
        for (uint64 n; n < publicationParams().maxOpenPerClient; ++n) {
            (IVoucherEscrow.Voucher memory sv, bytes memory ss) = signed(clientB, n);
            tryPublish(sv, ss);
        }
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        (bool ok,) = tryPublish(v, sig);
        assertTrue(ok, "HOLE: another client's open publications block this client's publish (QueueFull)");
    }

    /// HOLE 2 — `publish` compares the voucher's prices with `getOffer` but never checks
    /// `offer.active`. For any registered model the prover does NOT offer (or an offer it
    /// removed) the offer reads (0, 0, false), so a zero-price voucher "matches": no deposit is
    /// needed (maxCharge 0 ≤ balance 0) and the penalty is 0 (nothing held). Anyone with a key
    /// fills the prover's queue (HOLE 1) with no capital at all, and the prover is "published"
    /// a job it cannot even run (it has no weights for the model).
    /// Fix: `if (!offer.active) revert NoOffer(...)` in `publish` (and refuse a zero penalty,
    /// e.g. `if (pub.penalty == 0) revert`, so a publication always binds something).
    function test_hole_zeroPriceVoucherForAnUnofferedModel_publishableWithoutDeposit() public {
        bytes32 other = keccak256("a model the prover never offered");
        registerModel(other);
        address griefer = vm.addr(GRIEFER_KEY);
        uint256 published;
        for (uint64 n; n < publicationParams().maxOpenPerClient; ++n) {
            IVoucherEscrow.Voucher memory v = voucherFor(griefer, n);
            v.modelId = other;
            v.inputPrice = 0;
            v.outputPrice = 0;
            (bool ok,) = tryPublish(v, sign(GRIEFER_KEY, vouchers.voucherDigest(v)));
            if (ok) ++published;
        }
        assertEq(vouchers.account(griefer, prover).balance, 0, "the griefer never deposited");
        assertEq(published, 0, "HOLE: zero-price vouchers for a model the prover does not offer are publishable");
    }

    /// HOLE 3 — nonce 2^64-1 is publishable (`nonce >= nextNonce`), but `commitBatch` refuses a
    /// debit whose `lastNonce == type(uint64).max` (InvalidDebit). No batch can ever charge the
    /// voucher, so the prover can never answer: it must notice and decline within the decline
    /// window (the node admits it like any other published voucher, serves it, and its commit
    /// reverts), or pay the penalty for a voucher it could not batch.
    /// Fix: `if (v.nonce == type(uint64).max) revert NonceSpent(...)` in `_checkPayable`.
    function test_hole_maxNonceIsPublishable_butNoBatchCanChargeIt() public {
        uint64 maxNonce = type(uint64).max;
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, maxNonce);
        (bool ok, bytes32 h) = tryPublish(v, sig);
        if (!ok) return; // fixed: refused at publication
        // Whatever the leaf, the one debit that could charge nonce 2^64-1 is refused.
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](1);
        d[0] = IVoucherEscrow.Debit({client: clientA, firstNonce: maxNonce, lastNonce: maxNonce, count: 1, amount: MAX_CHARGE});
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InvalidDebit.selector, uint256(0)));
        vm.prank(prover);
        vouchers.commitBatch(0, keccak256("any root"), 1, d);
        // The honest prover served it but cannot answer; past the decline window it pays.
        vm.warp(claimableAfter(h) + 1);
        publication.claimMissed(h);
        assertEq(nodes.credits(clientA), 0, "HOLE: penalty taken for a published voucher no batch can charge (nonce 2^64-1)");
    }

    /// HOLE 4 — the hold crowds out the batch's own collateral. `publish` only checks that the
    /// idle reserve covers the PENALTY; batching the voucher needs its collateral
    /// (charge·collateralBps) on top of the hold, which ends only once the batch is shown. A
    /// prover whose idle reserve is in [penalty, penalty + collateral) and has no free stake
    /// (all staked stake reserved or unbonding — a busy prover at capacity) cannot batch the
    /// published voucher: it must decline within the short decline window or pay, contrary to
    /// "Publication reverts unless the prover could batch the voucher".
    /// Fix: in `publish`, require `reserved - held >= penalty + ⌊maxCharge·collateralBps/10⁴⌋`
    /// (e.g. `holdReserve(prover, penalty, headroom)` checking `held + penalty + headroom ≤
    /// reserved`), so the hold and the voucher's worst-case collateral both fit.
    function test_hole_heldPenaltyLeavesNoRoomToBatchThePublishedVoucher() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        // The prover: no free stake, an idle reserve of exactly one penalty.
        INodeRegistry.Node memory n = nodes.getNode(prover);
        vm.prank(prover);
        nodes.requestUnbond(uint128(n.stake - n.locked));
        uint128 excess = uint128(idle() - PENALTY);
        vm.prank(prover);
        vouchers.release(excess);
        vm.prank(prover);
        nodes.requestUnbond(excess);
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        (bool ok, bytes32 h) = tryPublish(v, sig);
        if (!ok) return; // fixed: refused, the prover could not batch it
        // It cannot add reserve (no free stake; here also under minProverStake) and its commit
        // of the voucher is refused (InsufficientReserve: the hold sits where the collateral must).
        vm.expectRevert();
        vm.prank(prover);
        vouchers.reserve(1);
        vm.prank(prover);
        try vouchers.commitBatch(0, root(b.hashes), 1, b.debits) {
            b.header = headerOf(b, 0);
            answerWith(h, b, 0);
        } catch {
            assertTrue(false, "HOLE: publication accepted while the reserve cannot hold the hold plus the voucher's batch collateral");
        }
    }

    /// HOLE 5 (needs a governance change) — `withdrawalNotice` is read when the withdrawal is
    /// REQUESTED, not when the voucher was published. Lowered mid-flight below the time left to
    /// a publication's deadline, the client requests a withdrawal right after the decline window
    /// closes, empties its deposit before the deadline, the prover's debit is refused, and the
    /// client collects the penalty (having possibly been served over the prompt it published).
    /// Fix: make the publication's deadline bind the deposit: `publish` calls an escrow hook
    /// `lockDepositUntil(client, prover, deadline)` and `requestWithdrawal` sets
    /// `withdrawableAt = max(now + withdrawalNotice, lockedUntil)` (or: `setParams` refuses a
    /// `withdrawalNotice` below the publication's `publishTimeout + answerWindow`, and a lowered
    /// notice applies only to requests made one old notice later).
    function test_hole_loweredWithdrawalNotice_letsThePublisherEmptyItsDepositBeforeTheDeadline() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        uint256 t0 = block.timestamp;
        bytes32 h = publishAs(clientA, 0);
        VoucherParams.Params memory p = vouchers.params();
        p.withdrawalNotice = 300; // governance, within bounds (≥ 60 s)
        vouchers.setParams(p, CHALLENGE_FEE);
        vm.warp(publication.publicationOf(h).declineDeadline + 1); // the prover can no longer decline
        vm.prank(clientA);
        vouchers.requestWithdrawal(prover);
        // Fixed: the publication locked the deposit until its deadline, whatever the notice.
        uint64 deadline = publication.publicationOf(h).deadline;
        assertLe(uint256(deadline) + 1, vouchers.account(clientA, prover).withdrawableAt, "HOLE: a withdrawal executes before the deadline");
        vm.expectRevert();
        vm.prank(clientA);
        vouchers.withdrawDeposit(prover, 1);
        // The honest prover batches before the deadline and answers: no penalty.
        vm.warp(t0 + 500);
        commitBuilt(b, 0);
        answerWith(h, b, 0);
        assertEq(uint256(publication.publicationOf(h).status), uint256(VoucherPublication.Status.Answered), "answered");
    }

    /// HOLE 6 (low) — `answer` checks only that SOME leaf of a live batch of the prover carries
    /// the published voucher hash; not that the leaf is the client's (client, nonce). A prover
    /// that never served the voucher commits a leaf carrying the hash inside another (e.g. a
    /// sybil's, amount 0 → collateral 0) debit and answers: the publication closes with no
    /// penalty. The batch IS voidable (a leaf challenge cannot be answered: the only voucher
    /// with that hash is the victim's, `WrongClient`/`VoucherMismatch`), but only if someone
    /// challenges and pays the fee; whoever does gets the reward, the victim gets neither
    /// service nor penalty, and a prover with little idle reserve / free stake loses little.
    /// Fix: store the voucher's nonce in the Publication and require
    /// `leaf.client == pub.client && leaf.nonce == pub.nonce` in `answer` (cheap; the leaf's
    /// other fields are the court's business as for any leaf).
    function test_hole_answerAcceptsALeafOfAnotherClientCarryingThePublishedHash() public {
        bytes32 h = publishAs(clientA, 0);
        Built memory b = build(one(clientB), counts1(1), nonces1(0), 5);
        b.leaves[0].voucherHash = h; // clientB's leaf, relabelled
        rehash(b);
        commitBuilt(b, 0);
        try publication.answer(h, b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0)) {
            assertTrue(false, "HOLE: a leaf of another client closed the publication");
        } catch {}
    }

    // ================================================================== DEFEATED (pass)

    /// The client publishes the same nonce twice with different expiries (two hashes): at most
    /// one can be charged. The honest prover declines the twin in the window and answers the
    /// other: no penalty, the reserve back to the batch's collateral alone.
    function test_defeated_sameNonceTwoExpiries_proverDeclinesTheTwin() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        bytes32 h1 = publishAs(clientA, 0);
        IVoucherEscrow.Voucher memory v2 = voucherFor(clientA, 0);
        v2.expiry += 1;
        (bool ok, bytes32 h2) = tryPublish(v2, sign(CLIENT_A_KEY, vouchers.voucherDigest(v2)));
        assertTrue(ok && h1 != h2, "twin published");
        uint256 stake = nodes.getNode(prover).stake;
        vm.prank(prover);
        publication.decline(h2);
        vm.warp(block.timestamp + 200);
        commitBuilt(b, 0);
        answerWith(h1, b, 0);
        assertEq(nodes.getNode(prover).stake, stake, "no penalty");
        assertEq(vouchers.reserveOf(prover).held, b.header.collateral, "holds released");
        // The twin can never be charged now (nonce spent) nor republished.
        bytes memory sig2 = sign(CLIENT_A_KEY, vouchers.voucherDigest(v2));
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.AlreadyPublished.selector, h2, VoucherPublication.Status.Declined));
        vm.prank(clientA);
        publication.publish(v2, sig2, promptBytes());
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// The prover answers with a batch of ANOTHER prover carrying the published hash.
    function test_defeated_answerWithAnotherProversBatch() public {
        bytes32 h = publishAs(clientA, 0);
        address other = address(0x07E5);
        registerProver(other, 1_000e18);
        vm.prank(other);
        vouchers.reserve(100e18);
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        b.leaves[0].voucherHash = h;
        b.debits[0].amount = 0; // clientA has no deposit with `other`
        rehash(b);
        vm.prank(other);
        vouchers.commitBatch(0, root(b.hashes), 1, b.debits);
        IVoucherEscrow.BatchHeader memory hdr = headerOf(b, 0);
        hdr.prover = other;
        hdr.total = 0;
        hdr.collateral = 0;
        vm.expectRevert(abi.encodeWithSelector(VoucherPublication.WrongBatch.selector, h, other, hdr.committedAt));
        publication.answer(h, hdr, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0));
    }

    /// The prover batches the published voucher in a provably wrong batch and has it voided
    /// before answering (moving the batch, and the nonce, out of reach): it cannot answer
    /// (the batch is settled, the nonce spent) and the held penalty still pays in full; the
    /// void's fraud share never touched the hold, no underflow anywhere.
    function test_defeated_selfVoidBeforeAnswer_stillPaysThePenalty() public {
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        b.debits[0].amount += 1; // provably wrong
        commitBuilt(b, 0);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[1], 1, proof(b.hashes, 1));
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.UnknownBatch.selector, vouchers.batchIdOf(prover, 0), bytes32(uint256(1))));
        answerWith(h, b, 0);
        assertEq(vouchers.reserveOf(prover).held, PENALTY, "only the penalty stays held");
        vm.warp(claimableAfter(h) + 1);
        publication.claimMissed(h);
        assertEq(nodes.credits(clientA), PENALTY, "paid in full");
        assertEq(vouchers.reserveOf(prover).held, 0, "nothing held");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Answer first, then self-void the batch (escaping the penalty, the victim refunded): the
    /// fraud slash (batch collateral + slashShareBps of the idle reserve, freed penalty
    /// included, and of free and unbonding stake, plus the jail) far exceeds the penalty even
    /// when the prover collects the challenger reward itself. Economically defeated for a
    /// prover with a normal stake (see the report for the thin-stake caveat).
    function test_defeated_answerThenSelfVoid_costsMoreThanThePenalty() public {
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        b.debits[0].amount += 1;
        commitBuilt(b, 0);
        answerWith(h, b, 0);
        uint256 stake = nodes.getNode(prover).stake + nodes.getNode(prover).unbonding;
        address sybil = address(0x5B11);
        vm.prank(sybil);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[1], 1, proof(b.hashes, 1));
        uint256 lost = stake - nodes.getNode(prover).stake - nodes.getNode(prover).unbonding;
        uint256 back = nodes.credits(sybil);
        assertTrue(lost - back > PENALTY, "self-void costs more than the penalty");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Anyone holding the published voucher and signature (they are in the log) moves its leaf
    /// into the JobEscrow before the prover answers: the batch stays live, the answer still
    /// closes the publication and the hold accounting stays exact.
    function test_defeated_adoptedLeafStillAnswers() public {
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        commitBuilt(b, 0);
        vm.prank(ANYONE);
        court.adoptJob(b.header, b.debits, BatchCourt.LeafRef(0, 0, b.leaves[0], proof(b.hashes, 0)), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        answerWith(h, b, 0);
        (, uint256 adoptedCollateral) = vouchers.batchState(vouchers.batchIdOf(prover, 0));
        assertEq(vouchers.reserveOf(prover).held, b.header.collateral - adoptedCollateral, "hold released, batch collateral less the moved share");
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        assertEq(vouchers.reserveOf(prover).held, 0, "nothing held");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Governance changes collateralBps mid-flight: each publication frees/forfeits exactly the
    /// penalty fixed at publication; the batch its header's collateral. No drift, no underflow.
    function test_defeated_collateralBpsChangeMidFlight_exactAccounting() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        bytes32 h0 = publishAs(clientA, 0);
        bytes32 h1 = publishAs(clientA, 1);
        setCollateralBps(5_000);
        commitBuilt(b, 0);
        b.header.collateral = uint128(uint256(b.header.total) * 5_000 / 10_000);
        answerWith(h0, b, 0);
        assertEq(vouchers.reserveOf(prover).held, PENALTY + b.header.collateral, "h1's penalty and the batch");
        setCollateralBps(90_000);
        vm.warp(claimableAfter(h1) + 1);
        publication.claimMissed(h1);
        assertEq(nodes.credits(clientA), PENALTY, "the penalty fixed at publication");
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        assertEq(vouchers.reserveOf(prover).held, 0, "nothing held");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// A client publishes, and a prover tries to shed the hold through a void's fraud share
    /// and a later release: the held penalty survives; `release` of anything held reverts.
    function test_defeated_releaseAfterVoid_cannotFreeTheHold() public {
        bytes32 h = publishAs(clientA, 0);
        Built memory b = build(one(clientB), counts1(2), nonces1(0), 5);
        b.debits[0].amount += 1;
        commitBuilt(b, 0);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[1], 1, proof(b.hashes, 1));
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        assertEq(r.held, PENALTY, "hold intact after the void");
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientReserve.selector, prover, uint256(r.reserved) + 1, uint256(r.reserved)));
        vm.prank(prover);
        vouchers.release(r.reserved - r.held + 1);
        vm.warp(claimableAfter(h) + 1);
        publication.claimMissed(h); // jailed, slashed: still pays
        assertEq(nodes.credits(clientA), PENALTY, "paid");
        assertVoucherSolvent(two(clientA, clientB));
    }

    // ================================================================== RESIDUAL (pass)

    /// Documented (§5.8): "A prover with no idle reserve cannot be published to (nor commit a
    /// batch)". The second half is weaker than it reads: the prover keeps its idle reserve at
    /// 0 (release is instant) and reserves just what each batch needs right before committing
    /// it, so it keeps batching while no client can ever publish to it — the penalty is opt-in
    /// for the prover. Client loses time only (never charged). Hardening if wanted: a release
    /// notice (request, then release after ≥ serve window + publishTimeout), and/or a minimum
    /// idle reserve commitBatch must leave.
    function test_residual_proverWithZeroIdleReserve_cannotBePublishedTo_yetKeepsBatching() public {
        uint128 all = uint128(idle());
        vm.prank(prover);
        vouchers.release(all);
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        (bool ok,) = tryPublish(v, sig);
        assertTrue(!ok, "cannot publish to a prover without idle reserve");
        Built memory b = build(one(clientB), counts1(1), nonces1(0), 5);
        uint256 collateral = uint256(chargeOf(b.leaves[0])) * voucherParams().collateralBps / 10_000;
        vm.prank(prover);
        vouchers.reserve(uint128(collateral));
        commitBuilt(b, 0);
        assertEq(idle(), 0, "batching with no idle reserve at any time");
    }

    /// The offer check is "today's prices": a prover that changes its offer (even for a block)
    /// makes a pending publication revert PriceMismatch; the client must re-sign at the new
    /// prices and try again. Same class as the zero-idle-reserve dodge (client loses time
    /// only). Hardening if wanted: NodeRegistry keeps the previous offer and when it changed,
    /// and publish also accepts the previous prices for `offerGrace` seconds after a change.
    function test_residual_offerFlipDodgesAPendingPublication() public {
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(clientA, 0);
        vm.prank(prover);
        nodes.setOffer(MODEL, IN_PRICE + 1, OUT_PRICE); // front-runs the client's publish
        (bool ok,) = tryPublish(v, sig);
        assertTrue(!ok, "refused: not today's prices");
        vm.prank(prover);
        nodes.setOffer(MODEL, IN_PRICE, OUT_PRICE);
    }

    /// A published voucher's batch must still be live when the answer lands (documented): a
    /// prover that commits and forgets to answer within the challenge window cannot answer.
    function test_residual_answerAfterTheBatchWasClaimed() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 5);
        bytes32 h = publishAs(clientA, 0);
        commitBuilt(b, 0);
        vm.warp(b.header.challengeDeadline + 1);
        vouchers.claimBatch(b.header);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.UnknownBatch.selector, vouchers.batchIdOf(prover, 0), bytes32(uint256(1))));
        answerWith(h, b, 0);
    }
}
