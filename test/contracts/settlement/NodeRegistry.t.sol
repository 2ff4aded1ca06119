// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {CreditLedger} from "../../../contracts/libraries/CreditLedger.sol";
import {vm} from "../utils/Vm.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";

contract NodeRegistryTest is Suite {
    address verifier = address(0x7E41);

    function setUp() public {
        deploySuite();
    }

    function test_register_pullsStakeAndRecordsNode() public {
        registerProver(prover, 150e18);
        INodeRegistry.Node memory n = nodes.getNode(prover);
        assertEq(uint8(n.role), uint8(INodeRegistry.Role.Prover), "role");
        assertEq(n.stake, 150e18, "stake");
        assertEq(token.balanceOf(address(nodes)), 150e18 + AUDIT_BOND, "held (with the pool auditor's bond)");
        assertEq(nodes.getOffer(prover, MODEL).outputPrice, OUT_PRICE, "offer");
        assertSolvent();
    }

    function test_register_emitsNodeRegistered() public {
        fund(verifier, 10e18);
        vm.expectEmit(true, false, false, true);
        emit NodeRegistry.NodeRegistered(verifier, INodeRegistry.Role.Verifier, 10e18, "http://v");
        vm.prank(verifier);
        nodes.register(INodeRegistry.Role.Verifier, 10e18, "http://v");
    }

    function test_register_revertsBelowMinimum() public {
        fund(prover, 99e18);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.StakeTooLow.selector, prover, 99e18, MIN_PROVER_STAKE));
        vm.prank(prover);
        nodes.register(INodeRegistry.Role.Prover, 99e18, "http://p");
    }

    function test_register_revertsTwiceAndOnBadInput() public {
        registerProver(prover, 100e18);
        vm.startPrank(prover);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.AlreadyRegistered.selector, prover));
        nodes.register(INodeRegistry.Role.Prover, 100e18, "http://p");
        vm.stopPrank();
        vm.startPrank(verifier);
        vm.expectRevert(NodeRegistry.InvalidRole.selector);
        nodes.register(INodeRegistry.Role.None, 100e18, "http://v");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidEndpoint.selector, 0));
        nodes.register(INodeRegistry.Role.Verifier, 100e18, "");
        vm.stopPrank();
    }

    function test_setOffer_onlyProversForKnownModels() public {
        fund(verifier, 10e18);
        vm.startPrank(verifier);
        nodes.register(INodeRegistry.Role.Verifier, 10e18, "http://v");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotAProver.selector, verifier));
        nodes.setOffer(MODEL, 1, 1);
        vm.stopPrank();
        registerProver(prover, 100e18);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.ModelUnknown.selector, bytes32(uint256(1))));
        vm.prank(prover);
        nodes.setOffer(bytes32(uint256(1)), 1, 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotRegistered.selector, client));
        vm.prank(client);
        nodes.setOffer(MODEL, 1, 1);
    }

    function test_updateEndpoint_andTopUp() public {
        registerProver(prover, 100e18);
        fund(prover, 5e18);
        vm.startPrank(prover);
        nodes.updateEndpoint("https://prover.example");
        nodes.topUp(5e18);
        vm.expectRevert(NodeRegistry.ZeroAmount.selector);
        nodes.topUp(0);
        vm.stopPrank();
        assertEq(nodes.getNode(prover).stake, 105e18, "topped up");
        assertEq(keccak256(bytes(nodes.getNode(prover).endpoint)), keccak256("https://prover.example"), "endpoint");
        assertSolvent();
    }

    function test_unbond_waitsForDelayThenWithdraws() public {
        registerProver(prover, 100e18);
        vm.prank(prover);
        nodes.requestUnbond(40e18);
        uint64 readyAt = uint64(block.timestamp) + UNBONDING_DELAY;
        assertEq(nodes.getNode(prover).unbonding, 40e18, "unbonding");
        vm.warp(readyAt - 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.UnbondingNotReady.selector, prover, readyAt, readyAt - 1));
        vm.prank(prover);
        nodes.withdrawUnbonded();
        vm.warp(readyAt);
        vm.prank(prover);
        nodes.withdrawUnbonded();
        assertEq(token.balanceOf(prover), 40e18, "withdrawn");
        assertEq(nodes.getNode(prover).stake, 60e18, "remaining");
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NothingUnbonding.selector, prover));
        vm.prank(prover);
        nodes.withdrawUnbonded();
        assertSolvent();
    }

    function test_unbond_cannotTouchLockedCollateral() public {
        registerProver(prover, 100e18);
        openJob(10, 10); // locks 1e18
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientFreeStake.selector, prover, 99e18, 100e18));
        vm.prank(prover);
        nodes.requestUnbond(100e18);
        vm.expectRevert(NodeRegistry.ZeroAmount.selector);
        vm.prank(prover);
        nodes.requestUnbond(0);
    }

    function test_escrowHooks_onlyEscrowRoles() public {
        registerProver(prover, 100e18);
        vm.startPrank(client);
        vm.expectRevert();
        nodes.lockCollateral(prover, 1);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotLocker.selector, client));
        nodes.unlockCollateral(prover, 1);
        vm.expectRevert();
        nodes.slashStake(prover, 1, 0, 0);
        vm.expectRevert();
        nodes.lockBond(prover, 1);
        vm.stopPrank();
    }

    function test_slashStake_boundedByLockAndShare_creditsTheSlasher() public {
        registerProver(prover, 100e18);
        nodes.grantRole(nodes.ESCROW_ROLE(), address(this));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(this));
        nodes.lockCollateral(prover, 10e18);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientLocked.selector, prover, 10e18, 11e18));
        nodes.slashStake(prover, 11e18, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidShare.selector, 10_001));
        nodes.slashStake(prover, 10e18, 10_001, 0);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InsufficientLocked.selector, prover, 10e18, 11e18));
        nodes.unlockCollateral(prover, 11e18);
        // 4e18 of the lock, then 25% of the 90e18 free.
        uint256 slashed = nodes.slashStake(prover, 4e18, 2_500, uint64(block.timestamp + 1 days));
        assertEq(slashed, 4e18 + 22.5e18, "slashed");
        assertEq(nodes.credits(address(this)), slashed, "credited to the slasher");
        INodeRegistry.Node memory n = nodes.getNode(prover);
        assertEq(n.stake, 100e18 - slashed, "stake");
        assertEq(n.locked, 6e18, "other locks untouched");
        assertEq(n.jailedUntil, block.timestamp + 1 days, "jailed");
        nodes.transferCredits(challenger, 3e18);
        assertEq(nodes.credits(challenger), 3e18, "transferred");
        vm.expectRevert(
            abi.encodeWithSelector(CreditLedger.InsufficientCredit.selector, address(this), slashed - 3e18, slashed)
        );
        nodes.transferCredits(challenger, slashed);
        vm.prank(challenger);
        nodes.withdrawCredits();
        assertEq(token.balanceOf(challenger), 3e18, "paid");
        vm.expectRevert(abi.encodeWithSelector(CreditLedger.NothingToWithdraw.selector, challenger));
        vm.prank(challenger);
        nodes.withdrawCredits();
        assertSolvent();
    }

    function test_jail_blocksNewCollateralUntilItEnds() public {
        registerProver(prover, 100e18);
        nodes.grantRole(nodes.ESCROW_ROLE(), address(this));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(this));
        uint64 until = uint64(block.timestamp + 3 days);
        nodes.slashStake(prover, 0, 0, until);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.Jailed.selector, prover, until));
        nodes.lockCollateral(prover, 1e18);
        // A later, shorter jail never shortens the current one.
        nodes.slashStake(prover, 0, 0, uint64(block.timestamp + 1 days));
        assertEq(nodes.getNode(prover).jailedUntil, until, "kept the longer jail");
        vm.warp(until);
        nodes.lockCollateral(prover, 1e18);
    }

    /// @notice Any slash keeps locked <= stake, takes exactly fromLocked + share of the free and
    /// unbonding stake, and conserves the registry's books.
    function testFuzz_slashStake_conservesBooks(uint128 stake, uint128 lockAmt, uint128 unbondAmt, uint128 fromLocked, uint16 share)
        public
    {
        stake = uint128(bound(stake, MIN_PROVER_STAKE, 1e30));
        registerProver(prover, stake);
        nodes.grantRole(nodes.ESCROW_ROLE(), address(this));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(this));
        unbondAmt = uint128(bound(unbondAmt, 0, stake - MIN_PROVER_STAKE));
        if (unbondAmt > 0) {
            vm.prank(prover);
            nodes.requestUnbond(unbondAmt);
        }
        lockAmt = uint128(bound(lockAmt, 0, stake - unbondAmt));
        nodes.lockCollateral(prover, lockAmt);
        fromLocked = uint128(bound(fromLocked, 0, lockAmt));
        share = uint16(bound(share, 0, 10_000));
        INodeRegistry.Node memory b = nodes.getNode(prover);
        uint256 slashed = nodes.slashStake(prover, fromLocked, share, 0);
        INodeRegistry.Node memory a = nodes.getNode(prover);
        uint256 expected = uint256(fromLocked) + (uint256(b.stake - b.locked)) * share / 10_000
            + uint256(b.unbonding) * share / 10_000;
        assertEq(slashed, expected, "amount");
        assertEq(uint256(b.stake) + b.unbonding - a.stake - a.unbonding, slashed, "taken from stake and unbonding");
        assertEq(a.locked, b.locked - fromLocked, "only this lock released");
        assertLe(a.locked, a.stake, "locked <= stake");
        assertSolvent();
    }

    function test_setParams_boundsAndRole() public {
        vm.expectRevert(NodeRegistry.InvalidParams.selector);
        nodes.setParams(1, 1, 61 days, treasury);
        vm.expectRevert(NodeRegistry.InvalidParams.selector);
        nodes.setParams(1, 1, 1 days, address(0));
        vm.expectRevert();
        vm.prank(client);
        nodes.setParams(1, 1, 1 days, treasury);
        nodes.setParams(1, 1, 1 days, treasury);
        assertEq(nodes.unbondingDelay(), 1 days, "delay");
    }

    /// @notice Any sequence of unbond requests keeps stake + unbonding constant and locked <= stake.
    function testFuzz_unbond_conservesStake(uint128 stake, uint128 lockAmt, uint128 first, uint128 second) public {
        stake = uint128(bound(stake, MIN_PROVER_STAKE, 1e30));
        registerProver(prover, stake);
        nodes.grantRole(nodes.ESCROW_ROLE(), address(this));
        lockAmt = uint128(bound(lockAmt, 0, stake));
        nodes.lockCollateral(prover, lockAmt);
        first = uint128(bound(first, 1, stake - lockAmt + 1));
        second = uint128(bound(second, 1, stake));
        for (uint256 i; i < 2; ++i) {
            uint128 amt = i == 0 ? first : second;
            INodeRegistry.Node memory before = nodes.getNode(prover);
            vm.prank(prover);
            try nodes.requestUnbond(amt) {
                assertLe(amt, before.stake - before.locked, "only free stake unbonds");
            } catch {
                assertTrue(amt > before.stake - before.locked, "reverted only when over free stake");
            }
            INodeRegistry.Node memory n = nodes.getNode(prover);
            assertEq(uint256(n.stake) + n.unbonding, stake, "conserved");
            assertLe(n.locked, n.stake, "locked <= stake");
        }
        assertSolvent();
    }
}
