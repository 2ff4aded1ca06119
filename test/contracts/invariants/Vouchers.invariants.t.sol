// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VoucherFixture} from "../vouchers/VoucherFixture.sol";
import {VoucherHandler} from "./VoucherHandler.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";

/// @notice Invariants of deposits, batches and batch disputes under random actors (PROTOCOL §5.8).
contract VoucherInvariants is VoucherFixture {
    VoucherHandler handler;

    function setUp() public {
        setUpVouchers();
        uint256[] memory keys = new uint256[](3);
        (keys[0], keys[1], keys[2]) = (CLIENT_A_KEY, CLIENT_B_KEY, 0xC3C3);
        handler = new VoucherHandler(vouchers, court, publication, prover, MODEL, IN_PRICE, OUT_PRICE, keys);
        token.transferOwnership(address(handler));
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice Every token the voucher escrow, the court and the JobEscrow hold is owed.
    /// hardhat-config: invariant.runs = 10000
    function invariant_voucherSolvency() public view {
        address[] memory cs = new address[](handler.clientCount());
        for (uint256 i; i < cs.length; ++i) cs[i] = handler.clients(i);
        assertVoucherSolvent(cs);
    }

    function invariant_noVoucherChargedTwice() public view {
        assertEq(handler.doubleCharges(), 0, "a (client, nonce) charged in two batches");
    }

    function invariant_noChargeAboveVoucherMaxima() public view {
        assertEq(handler.answeredOverMax(), 0, "a leaf over its voucher's maxima survived a challenge");
    }

    function invariant_unusedDepositAlwaysRecoverable() public view {
        assertEq(handler.stuckWithdrawals(), 0, "a client could not withdraw its unused deposit");
    }

    /// @notice Open publications' penalties stay held in the reserve; a miss pays exactly its penalty.
    function invariant_publicationPenaltiesHeld() public view {
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        assertLe(handler.publicationHeld(), r.held, "an open publication's penalty is not held");
        assertEq(handler.penaltyShortfalls(), 0, "a missed publication paid other than its penalty");
    }

    /// @notice Live batches' collateral is reserved, and the reserve is locked stake.
    function invariant_reserveCoversLiveBatches() public view {
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        IVoucherEscrow.ProverBook memory b = vouchers.book(prover);
        assertLe(r.held, r.reserved, "held above reserved");
        assertLe(uint256(b.exposure) * voucherParams().collateralBps / 10_000, uint256(r.held) + 1e6, "held below the live batches' collateral");
        assertLe(r.reserved, nodes.getNode(prover).locked, "reserve not locked");
    }
}
