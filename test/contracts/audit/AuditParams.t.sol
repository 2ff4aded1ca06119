// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {AuditFixture} from "./AuditFixture.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {AuditParams} from "../../../contracts/audit/AuditParams.sol";

/// @notice Audit parameters (PROTOCOL §9.6): every bound reverts with its field's name, the
/// bounds themselves are accepted, only PARAMS_ROLE may set them, and a model may have its own
/// audit rate.
contract AuditParamsTest is AuditFixture {
    function setUp() public {
        setUpAudits();
    }

    function expectInvalid(AuditParams.Params memory p, string memory field) internal {
        vm.expectRevert(abi.encodeWithSelector(AuditParams.InvalidParams.selector, field));
        audits.setParams(p);
    }

    function test_setParams_eachBoundRevertsWithItsField() public {
        AuditParams.Params memory p = defaultAuditParams();
        p.auditRateBps = 0;
        expectInvalid(p, "auditRateBps");
        p.auditRateBps = 10_001;
        expectInvalid(p, "auditRateBps");

        p = defaultAuditParams();
        p.boundaries = 0;
        expectInvalid(p, "boundaries");

        p = defaultAuditParams();
        p.slashShareBps = 999;
        expectInvalid(p, "slashShareBps");
        p.slashShareBps = 10_001;
        expectInvalid(p, "slashShareBps");

        p = defaultAuditParams();
        p.jailPeriod = 365 days + 1;
        expectInvalid(p, "jailPeriod");

        p = defaultAuditParams();
        p.auditFeeBps = 2_001;
        expectInvalid(p, "auditFeeBps");

        p = defaultAuditParams();
        p.auditPeriod = 59;
        expectInvalid(p, "auditPeriod");
        p.auditPeriod = 30 days + 1;
        p.leaveDelay = type(uint32).max; // keep the later check from firing first
        expectInvalid(p, "auditPeriod");

        p = defaultAuditParams();
        p.vestDelay = 0;
        expectInvalid(p, "vestDelay");
        p.vestDelay = 30 days + 1;
        p.leaveDelay = type(uint32).max;
        expectInvalid(p, "vestDelay");

        p = defaultAuditParams();
        p.lazySlashBps = 10_001;
        expectInvalid(p, "lazySlashBps");

        p = defaultAuditParams();
        p.maxMisses = 0;
        expectInvalid(p, "maxMisses");

        p = defaultAuditParams();
        p.minBond = 0;
        expectInvalid(p, "minBond");

        p = defaultAuditParams();
        p.leaveDelay = p.auditPeriod + p.vestDelay - 1;
        expectInvalid(p, "leaveDelay");
    }

    /// The extreme admissible value of every field, low and high, is accepted.
    function test_setParams_acceptsTheBoundsThemselves() public {
        AuditParams.Params memory low = AuditParams.Params({
            auditRateBps: 1,
            boundaries: 1,
            slashShareBps: 1_000,
            jailPeriod: 0,
            auditFeeBps: 0,
            auditPeriod: 60,
            vestDelay: 1,
            lazySlashBps: 0,
            maxMisses: 1,
            minBond: 1,
            leaveDelay: 61
        });
        vm.expectEmit(false, false, false, true);
        emit AuditParams.ParamsUpdated(low);
        audits.setParams(low);
        assertEq(keccak256(abi.encode(audits.params())), keccak256(abi.encode(low)), "stored");

        AuditParams.Params memory high = AuditParams.Params({
            auditRateBps: 10_000,
            boundaries: type(uint8).max,
            slashShareBps: 10_000,
            jailPeriod: 365 days,
            auditFeeBps: 2_000,
            auditPeriod: 30 days,
            vestDelay: 30 days,
            lazySlashBps: 10_000,
            maxMisses: type(uint8).max,
            minBond: type(uint128).max,
            leaveDelay: 60 days
        });
        audits.setParams(high);
        assertEq(keccak256(abi.encode(audits.params())), keccak256(abi.encode(high)), "stored");
    }

    function test_setParams_andModelRate_onlyParamsRole() public {
        bytes memory denied = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, challenger, audits.PARAMS_ROLE()
        );
        AuditParams.Params memory p = defaultAuditParams();
        vm.expectRevert(denied);
        vm.prank(challenger);
        audits.setParams(p);
        vm.expectRevert(denied);
        vm.prank(challenger);
        audits.setModelAuditRate(MODEL, 5_000);

        audits.grantRole(audits.PARAMS_ROLE(), challenger);
        vm.prank(challenger);
        audits.setModelAuditRate(MODEL, 5_000);
        assertEq(audits.auditRateOf(MODEL), 5_000, "granted");
    }

    function test_setModelAuditRate_overridesAndRestoresTheDefault() public {
        vm.expectRevert(abi.encodeWithSelector(AuditParams.InvalidParams.selector, "rateBps"));
        audits.setModelAuditRate(MODEL, 10_001);

        vm.expectEmit(true, false, false, true);
        emit AuditParams.ModelAuditRateSet(MODEL, 10_000);
        audits.setModelAuditRate(MODEL, 10_000);
        assertEq(audits.auditRateOf(MODEL), 10_000, "own rate");
        assertEq(audits.auditRateOf(keccak256("other")), 1_000, "others keep the default");
        (uint256 num, uint256 den) = audits.detectionProbability(MODEL);
        assertEq(num * 1e4 / den, 4_000, "p = 100% * 2/5");

        audits.setModelAuditRate(MODEL, 0);
        assertEq(audits.auditRateOf(MODEL), 1_000, "0 restores the default");
        AuditParams.Params memory p = defaultAuditParams();
        p.auditRateBps = 2_500;
        audits.setParams(p);
        assertEq(audits.auditRateOf(MODEL), 2_500, "follows the new default");
    }

    /// p = rate·min(k, L+1)/(L+1): k is capped by the L+1 = 5 boundaries of the tiny model.
    function test_detectionProbability_capsKAtTheBoundaryCount() public {
        (uint256 num, uint256 den) = audits.detectionProbability(MODEL);
        assertEq(num, 1_000 * 2, "rate * k");
        assertEq(den, 10_000 * 5, "1e4 * (L+1)");
        AuditParams.Params memory p = defaultAuditParams();
        p.boundaries = 9;
        audits.setParams(p);
        (num, den) = audits.detectionProbability(MODEL);
        assertEq(num, 1_000 * 5, "k capped at L+1");
        assertEq(den, 10_000 * 5, "den");
    }

    function test_views_fraudPenaltyAndAuditFee() public view {
        (uint16 share, uint32 jail) = audits.fraudPenalty();
        assertEq(share, 5_000, "slashShareBps");
        assertEq(jail, 7 days, "jailPeriod");
        assertEq(audits.auditFeeBps(), 500, "auditFeeBps");
    }

    /// A committed job keeps its deadline; new parameters apply to later commits, and a report
    /// keeps its vesting time.
    function test_setParams_doesNotTouchCommittedJobsOrReports() public {
        fundPool(1e18);
        uint256 reported = openAuditedJob();
        report(auditor, reported);
        uint256 pending = openAuditedJob();
        uint40 deadline = audits.getAudit(pending).deadline;
        uint40 vestsAt = audits.getAudit(reported).vestsAt;
        AuditParams.Params memory p = defaultAuditParams();
        p.auditPeriod = 60;
        p.vestDelay = 30 days;
        p.leaveDelay = 31 days;
        audits.setParams(p);
        assertEq(audits.getAudit(pending).deadline, deadline, "deadline kept");
        assertEq(audits.getAudit(reported).vestsAt, vestsAt, "vesting kept");
        uint256 later = openAuditedJob();
        assertEq(audits.getAudit(later).deadline, block.timestamp + 60, "new period for new commits");
    }
}
