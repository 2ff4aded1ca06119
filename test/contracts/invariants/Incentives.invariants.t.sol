// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IncentivesHandler} from "./IncentivesHandler.sol";

/// @notice Invariants of the incentive layer (PROTOCOL §9) under random actors: solvency with the
/// audit pool, reservations covered by the pool, one reward per fraud, no jobs for a jailed
/// prover, audit pay only for a report that revealed the real probe leaf, and the books of
/// locks, bonds and exposure.
contract IncentivesInvariants is Suite {
    bytes32 constant MODEL2 = keccak256("pool-only-model");
    IncentivesHandler handler;

    function setUp() public {
        deploySuiteWith(IERC20(address(0)), address(0));
        registerModel(MODEL2);
        // Three jobs in four audited, so draws, reports and claims happen within short sequences.
        audits.setModelAuditRate(MODEL, 7_500);
        // One miss ejects: ejected auditors still holding assignments are then common.
        AuditManager.Params memory p = audits.params();
        p.maxMisses = 1;
        audits.setParams(p);

        address[] memory provers = new address[](3);
        address[] memory clients = new address[](3);
        for (uint256 i; i < 3; ++i) {
            provers[i] = address(uint160(0xA000 + i));
            clients[i] = address(uint160(0xC000 + i));
        }
        // Stakes large enough that a slashed prover (collateral + half the rest) stays above the
        // minimum, so jailed provers do try to take jobs.
        registerProver(provers[0], 300e18);
        registerProver(provers[1], 500e18);
        registerProver(provers[2], 1_000e18);
        // The third prices high enough that the deterrence limit (1.5% of its free stake at this
        // audit rate) binds after a job or two.
        vm.prank(provers[2]);
        nodes.setOffer(MODEL, 1e18, 2e18);

        address[] memory verifiers = new address[](4);
        verifiers[0] = auditor; // in MODEL's pool since deploySuite
        for (uint256 i = 1; i < 4; ++i) {
            verifiers[i] = address(uint160(0xD000 + i));
            fund(verifiers[i], 30e18);
            vm.startPrank(verifiers[i]);
            nodes.register(INodeRegistry.Role.Verifier, 30e18, "http://127.0.0.1:8700");
            // Two members at first (each audits about half the jobs); the others join at random.
            if (i == 1) {
                audits.joinPool(MODEL);
                audits.joinPool(MODEL2);
            }
            vm.stopPrank();
        }
        address[] memory volunteers = new address[](2);
        volunteers[0] = challenger;
        volunteers[1] = address(0x5B11);

        handler = new IncentivesHandler(escrow, audits, MODEL, MODEL2, provers, clients, verifiers, volunteers);
        token.transferOwnership(address(handler));
        escrow.setDisputeGame(address(handler));
        audits.grantRole(audits.CANARY_ROLE(), address(handler));
        // Pool members joined in this block; they are drawable from the next one.
        vm.roll(block.number + 1);
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice escrow: balance == totalEscrowed + totalCredits + auditPool; registry: balance ==
    /// totalStaked + totalUnbonding + totalCredits — after every call of every sequence.
    /// 10,000 runs (issue #9) of 10 calls: the handler's composite actions reach claims, canary
    /// slashes and rewards within that, and the campaign then costs about what the settlement
    /// one does (the other campaigns here run 20 calls deep).
    /// hardhat-config: invariant.runs = 10000
    /// hardhat-config: invariant.depth = 10
    function invariant_solvency() public view {
        assertSolvent();
    }

    /// @notice Promised audit pay is always in the pool, and only to auditors that can claim it.
    function invariant_reservedCoveredByThePool() public view {
        assertLe(audits.reserved(), escrow.auditPool(), "reserved > auditPool");
        uint256 unclaimed;
        for (uint256 i; i < handler.verifierCount(); ++i) {
            AuditManager.Auditor memory a = audits.getAuditor(handler.verifiers(i));
            unclaimed += a.unclaimed;
            if (a.ejectedBlock != 0) assertEq(a.unclaimed, 0, "an ejected auditor holds reserved pay");
        }
        assertEq(audits.reserved(), unclaimed, "reserved = sum of unclaimed pay");
    }

    /// @notice Each slashed job pays SlashRewardPaid at most once; rewards never exceed the
    /// challenger share of what fraud slashes took, and are exactly what challengers hold.
    function invariant_noDoubleReward() public view {
        for (uint256 i; i < handler.jobCount(); ++i) {
            assertLe(handler.rewardsPaidFor(handler.jobIds(i)), 1, "a job's reward paid twice");
        }
        uint256 share = escrow.params().challengerRewardBps;
        assertLe(handler.totalRewards(), handler.totalFraudSlashed() * share / 10_000, "rewards > share of slashes");
        uint256 held;
        for (uint256 i; i < handler.verifierCount(); ++i) held += nodes.credits(handler.verifiers(i));
        for (uint256 i; i < handler.volunteerCount(); ++i) held += nodes.credits(handler.volunteers(i));
        assertEq(held, handler.totalRewards(), "challengers' credits = rewards paid");
    }

    function invariant_jailedProverTakesNoJob() public view {
        assertEq(handler.jailedOpens(), 0, "a jailed prover opened a job");
    }

    /// @notice Audit pay reaches only auditors whose report revealed the job's real probe leaf,
    /// once per job, and the tokens they hold are exactly those claims.
    function invariant_auditPayOnlyWithAValidReveal() public view {
        assertEq(handler.forgedReportsAccepted(), 0, "a forged probe was accepted");
        assertEq(handler.claimsWithoutValidReveal(), 0, "pay without a valid reveal (or twice)");
        uint256 held;
        for (uint256 i; i < handler.verifierCount(); ++i) {
            address v = handler.verifiers(i);
            held += escrow.credits(v) + token.balanceOf(v);
        }
        assertEq(held, handler.auditPayClaimed(), "auditors' escrow money = claimed pay");
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIds(i);
            if (audits.getAudit(id).state == AuditManager.AuditState.Paid) {
                assertTrue(handler.validReveal(id), "a Paid audit without a valid reveal");
            }
        }
    }

    function invariant_deterrenceHeldAtEveryOpen() public view {
        assertEq(handler.deterrenceBreaches(), 0, "exposure above the limit after an open");
    }

    function invariant_lockedNeverExceedsStake() public view {
        for (uint256 i; i < handler.proverCount(); ++i) {
            INodeRegistry.Node memory n = nodes.getNode(handler.provers(i));
            assertLe(n.locked, n.stake, "prover locked > stake");
        }
        for (uint256 i; i < handler.verifierCount(); ++i) {
            INodeRegistry.Node memory n = nodes.getNode(handler.verifiers(i));
            assertLe(n.locked, n.stake, "verifier locked > stake");
        }
    }

    /// @notice Provers' locks are the collateral of their unsettled jobs, exposure is their
    /// escrow, and a verifier's lock is its audit bond.
    function invariant_locksExposureAndBondsMatchTheBooks() public view {
        for (uint256 p; p < handler.proverCount(); ++p) {
            address prover_ = handler.provers(p);
            uint256 collateral;
            uint256 exposure;
            for (uint256 i; i < handler.jobCount(); ++i) {
                IJobEscrow.Job memory job = escrow.getJob(handler.jobIds(i));
                if (job.prover != prover_) continue;
                if (job.status == IJobEscrow.JobStatus.Open || job.status == IJobEscrow.JobStatus.Committed) {
                    collateral += job.collateral;
                    exposure += job.escrowed;
                }
            }
            assertEq(nodes.getNode(prover_).locked, collateral, "prover locks vs unsettled jobs");
            assertEq(escrow.exposure(prover_), exposure, "exposure vs unsettled escrow");
        }
        for (uint256 i; i < handler.verifierCount(); ++i) {
            address v = handler.verifiers(i);
            assertEq(nodes.getNode(v).locked, audits.getAuditor(v).bond, "verifier lock = audit bond");
        }
    }
}
