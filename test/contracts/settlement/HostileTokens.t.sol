// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {FeeOnTransferToken, BlocklistToken} from "../../../contracts/mocks/HostileTokens.sol";
import {TokenTransfers} from "../../../contracts/libraries/TokenTransfers.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @notice Tokens that misbehave cannot break the books: a fee-on-transfer token is refused
/// outright, and a token that blocks one payee blocks only that payee's withdrawal.
contract FeeOnTransferTokenTest is Suite {
    FeeOnTransferToken fot;

    function setUp() public {
        fot = new FeeOnTransferToken();
        deploySuiteWith(IERC20(address(fot)), address(this));
    }

    function test_register_refusesShortDelivery() public {
        fot.mint(prover, 200e18);
        vm.startPrank(prover);
        fot.approve(address(nodes), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(TokenTransfers.TransferShortfall.selector, address(fot), 150e18, 148.5e18));
        nodes.register(INodeRegistry.Role.Prover, 150e18, "http://p");
        vm.stopPrank();
        assertEq(nodes.totalStaked(), 0, "nothing booked");
        assertEq(fot.balanceOf(address(nodes)), 0, "nothing held");
    }
}

contract BlocklistTokenTest is Suite {
    BlocklistToken blk;

    function setUp() public {
        blk = new BlocklistToken();
        deploySuiteWith(IERC20(address(blk)), address(this));
        _fund(prover, 200e18);
        vm.startPrank(prover);
        nodes.register(INodeRegistry.Role.Prover, 200e18, "http://p");
        nodes.setOffer(MODEL, IN_PRICE, OUT_PRICE);
        vm.stopPrank();
        _fund(auditor, AUDIT_BOND);
        vm.startPrank(auditor);
        nodes.register(INodeRegistry.Role.Verifier, AUDIT_BOND, "http://v");
        audits.joinPool(MODEL);
        vm.stopPrank();
    }

    function _fund(address who, uint256 amount) private {
        blk.mint(who, amount);
        vm.startPrank(who);
        blk.approve(address(nodes), type(uint256).max);
        blk.approve(address(escrow), type(uint256).max);
        vm.stopPrank();
    }

    function test_blockedPayee_doesNotStopSettlementOrOthers() public {
        uint256 cost = 10 * uint256(IN_PRICE) + 10 * uint256(OUT_PRICE);
        _fund(client, cost);
        vm.prank(client);
        uint256 jobId = escrow.openJob(jobParams(prover, 10, 10));
        vm.prank(prover);
        escrow.commitResult(jobId, keccak256("t"), keccak256("o"), 5);
        blk.setBlocked(client, true);
        vm.warp(block.timestamp + 3601);
        escrow.finalize(jobId); // credits only: no transfer to the blocked client here

        vm.expectRevert(bytes("recipient blocked"));
        vm.prank(client);
        escrow.withdraw();
        uint256 owed = escrow.credits(client);
        assertTrue(owed > 0, "client credit kept after failed withdrawal");

        vm.prank(prover);
        escrow.withdraw();
        assertTrue(blk.balanceOf(prover) > 0, "prover paid despite blocked client");
        assertSolvent();

        blk.setBlocked(client, false);
        vm.prank(client);
        escrow.withdraw();
        assertEq(blk.balanceOf(client), owed, "client paid once unblocked");
        assertSolvent();
    }
}
