// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditParams} from "../../../contracts/audit/AuditParams.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Deterrence (PROTOCOL §9.4): openJob reverts `InsufficientDeterrence(prover, exposure,
/// limit)` exactly when the prover's exposure (escrow of its Open and Committed jobs, this one
/// included) exceeds p·s·F/D, F being its free stake after this job's collateral; exposure
/// follows every way a job leaves Open/Committed; a jailed prover opens nothing.
contract DeterrenceTest is AuditFixture {
    uint256 constant L = 4; // the tiny model's layers

    function setUp() public {
        setUpAudits();
    }

    /// The limit of PROTOCOL §9.4, written out here independently of the contract.
    function expectedLimit(uint256 free, uint256 rate, uint256 k, uint256 share) internal pure returns (uint256) {
        uint256 kEff = k < L + 1 ? k : L + 1;
        return free * rate * kEff * share / ((L + 1) * 1e4 * 1e4 * 10);
    }

    function collateralOf(uint256 cost) internal pure returns (uint256 c) {
        c = cost * 20_000 / 1e4;
        if (c < 1e18) c = 1e18;
    }

    struct Case {
        uint128 stake;
        uint128 inPrice;
        uint128 outPrice;
        uint32 inTok;
        uint32 maxOut;
        uint16 rate;
        uint8 k;
        uint16 share;
    }

    /// Two jobs in a row, each predicted from the formula: it opens iff collateral fits the free
    /// stake and exposure ≤ limit, and otherwise reverts with exactly the predicted arguments.
    function testFuzz_openJob_deterrenceLimitIsExact(Case memory c, uint32 firstIn) public {
        c.stake = uint128(bound(c.stake, MIN_PROVER_STAKE, 1e24));
        c.inPrice = uint128(bound(c.inPrice, 1, 1e17));
        c.outPrice = uint128(bound(c.outPrice, 1, 1e17));
        c.inTok = uint32(bound(c.inTok, 1, 256));
        c.maxOut = uint32(bound(c.maxOut, 1, 256));
        c.rate = uint16(bound(c.rate, 1, 10_000));
        c.k = uint8(bound(c.k, 1, 8));
        c.share = uint16(bound(c.share, 1_000, 10_000));
        firstIn = uint32(bound(firstIn, 1, 256));

        AuditParams.Params memory p = defaultAuditParams();
        p.boundaries = c.k;
        p.slashShareBps = c.share;
        audits.setParams(p);
        audits.setModelAuditRate(MODEL, c.rate);
        address richProver = address(0xB0B2);
        registerProver(richProver, c.stake);
        vm.prank(richProver);
        nodes.setOffer(MODEL, c.inPrice, c.outPrice);

        // A first job makes the second one's exposure include an existing one (when it opens).
        attempt(richProver, c, firstIn, c.maxOut);
        attempt(richProver, c, c.inTok, c.maxOut);
    }

    function attempt(address who, Case memory c, uint32 inTok, uint32 maxOut) internal {
        uint256 cost = uint256(inTok) * c.inPrice + uint256(maxOut) * c.outPrice;
        uint256 collateral = collateralOf(cost);
        uint256 freeBefore = nodes.freeStake(who);
        uint256 exposureBefore = escrow.exposure(who);
        uint256 exposure = exposureBefore + cost;
        IJobEscrow.OpenJobParams memory params = jobParams(who, inTok, maxOut);
        params.inputPrice = c.inPrice;
        params.outputPrice = c.outPrice;
        fund(client, cost);
        bool opens;
        if (collateral > freeBefore) {
            vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientFreeStake.selector, who, freeBefore, collateral));
        } else {
            uint256 limit = expectedLimit(freeBefore - collateral, c.rate, c.k, c.share);
            opens = exposure <= limit;
            if (!opens) {
                vm.expectRevert(abi.encodeWithSelector(JobEscrow.InsufficientDeterrence.selector, who, exposure, limit));
            }
        }
        vm.prank(client);
        escrow.openJob(params);
        assertEq(escrow.exposure(who), opens ? exposure : exposureBefore, "exposure");
    }

    /// With the defaults the tiny model allows 1/500 of the free stake (p = 4%, s = 50%, D = 10):
    /// a prover whose free stake after collateral is exactly 500·cost opens; one unit less not.
    function test_openJob_exactlyAtTheLimitOpensOneBelowReverts() public {
        uint128 price = 1e17;
        uint256 cost = uint256(IN_TOK + MAX_OUT) * price;
        uint256 collateral = 2 * cost;
        address atLimit = address(0xB0B3);
        address below = address(0xB0B4);
        registerProver(atLimit, uint128(500 * cost + collateral));
        registerProver(below, uint128(500 * cost + collateral - 1));
        assertEq(audits.exposureLimit(MODEL, 500 * cost), cost, "limit = F / 500");
        IJobEscrow.OpenJobParams memory p = jobParams(atLimit, IN_TOK, MAX_OUT);
        (p.inputPrice, p.outputPrice) = (price, price);
        vm.prank(atLimit);
        nodes.setOffer(MODEL, price, price);
        vm.prank(below);
        nodes.setOffer(MODEL, price, price);
        fund(client, 2 * cost);

        vm.prank(client);
        escrow.openJob(p);
        assertEq(escrow.exposure(atLimit), cost, "at the limit");

        p.prover = below;
        vm.expectRevert(abi.encodeWithSelector(JobEscrow.InsufficientDeterrence.selector, below, cost, cost - 1));
        vm.prank(client);
        escrow.openJob(p);
    }

    /// Exposure sums Open and Committed escrow and falls by the job's escrow on finalize,
    /// expiry, decline and slash.
    function test_exposure_risesOnOpenAndFallsOnEveryExit() public {
        uint256 cost = uint256(IN_TOK) * IN_PRICE + uint256(MAX_OUT) * OUT_PRICE;
        uint256 finalized = openStandard();
        uint256 expired = openStandard();
        uint256 declined = openStandard();
        uint256 slashed = openStandard();
        assertEq(escrow.exposure(prover), 4 * cost, "four open");

        commit(finalized, OUT_TOK); // lapsed draw: no priority in the way
        commit(slashed, OUT_TOK);
        assertEq(escrow.exposure(prover), 4 * cost, "committing keeps the exposure");

        vm.prank(prover);
        escrow.declineJob(declined);
        assertEq(escrow.exposure(prover), 3 * cost, "decline");

        uint32 seq = escrow.onDisputeOpened(slashed, challenger);
        escrow.onDisputeResolved(slashed, seq, true, challenger);
        assertEq(escrow.exposure(prover), 2 * cost, "slash");

        vm.warp(block.timestamp + 3_601);
        escrow.refundExpired(expired);
        assertEq(escrow.exposure(prover), cost, "expiry");
        escrow.finalize(finalized);
        assertEq(escrow.exposure(prover), 0, "finalize");
    }

    /// A fraud jails the prover: no job opens until the jail's last second has passed.
    function test_jailedProverOpensNothingUntilTheJailEnds() public {
        uint256 jobId = openStandard();
        commit(jobId, OUT_TOK);
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        escrow.onDisputeResolved(jobId, seq, true, challenger);
        uint64 until = nodes.getNode(prover).jailedUntil;
        assertEq(until, block.timestamp + 7 days, "jailPeriod");

        fund(client, 1e18);
        vm.warp(until - 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.Jailed.selector, prover, until));
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
        vm.warp(until);
        vm.prank(client);
        escrow.openJob(jobParams(prover, IN_TOK, MAX_OUT));
    }
}
