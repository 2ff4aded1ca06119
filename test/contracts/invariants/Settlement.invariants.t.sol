// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {SettlementHandler} from "./SettlementHandler.sol";

/// @notice Invariants of the economic state machine under random actors (PROTOCOL §5.6).
contract SettlementInvariants is Suite {
    SettlementHandler handler;

    function setUp() public {
        deploySuiteWith(IERC20(address(0)), address(0));
        address[] memory provers = new address[](3);
        address[] memory clients = new address[](3);
        for (uint256 i; i < 3; ++i) {
            provers[i] = address(uint160(0xA000 + i));
            clients[i] = address(uint160(0xC000 + i));
            registerProver(provers[i], uint128(150e18 + i * 50e18));
        }
        handler = new SettlementHandler(escrow, nodes, IERC20(address(token)), MODEL, provers, clients);
        token.transferOwnership(address(handler));
        // The handler plays the dispute game, opening and resolving disputes at random.
        escrow.setDisputeGame(address(handler));
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Token balances equal what is owed, after every call of every random sequence.
    /// Issue #2 asks for >= 10,000 runs in CI with a fixed seed (hardhat.config.ts), so this
    /// one campaign runs that many everywhere.
    /// hardhat-config: invariant.runs = 10000
    function invariant_solvency() public view {
        assertSolvent();
    }

    function invariant_noDoublePayment() public view {
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) {
            assertLe(handler.timesSettled(handler.jobIds(i)), 1, "a job settled more than once");
        }
    }

    function invariant_noPayoutDuringDisputeOrWindow() public view {
        assertEq(handler.violations(), 0, "payout while frozen or before the window ended");
    }

    function invariant_lockedNeverExceedsStake() public view {
        for (uint256 i; i < 3; ++i) {
            INodeRegistry.Node memory n = nodes.getNode(address(uint160(0xA000 + i)));
            assertLe(n.locked, n.stake, "locked > stake");
        }
    }

    /// @notice Each prover's published-open counter equals its Open jobs with a published
    /// prompt, and never exceeds the cap (the bound on forced work).
    function invariant_publishedCountMatchesOpenJobs() public view {
        uint256 n = handler.jobCount();
        for (uint256 i; i < 3; ++i) {
            address p = address(uint160(0xA000 + i));
            uint256 expected;
            for (uint256 j; j < n; ++j) {
                IJobEscrow.Job memory job = escrow.getJob(handler.jobIds(j));
                if (job.prover == p && job.status == IJobEscrow.JobStatus.Open && job.promptPublished) ++expected;
            }
            assertEq(escrow.publishedOpen(p), expected, "publishedOpen vs open published jobs");
            assertLe(expected, escrow.params().maxPublishedPerProver, "over the publish cap");
        }
    }

    /// @notice Sum of locked collateral equals the collateral of every job still unsettled.
    function invariant_locksMatchOpenJobs() public view {
        uint256 locked;
        for (uint256 i; i < 3; ++i) locked += nodes.getNode(address(uint160(0xA000 + i))).locked;
        uint256 expected;
        uint256 n = handler.jobCount();
        for (uint256 i; i < n; ++i) {
            IJobEscrow.Job memory job = escrow.getJob(handler.jobIds(i));
            if (job.status == IJobEscrow.JobStatus.Open || job.status == IJobEscrow.JobStatus.Committed) {
                expected += job.collateral;
            }
        }
        assertEq(locked, expected, "locks vs unsettled jobs");
    }
}
