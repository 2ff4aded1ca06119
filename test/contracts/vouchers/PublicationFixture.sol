// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VoucherFixture} from "./VoucherFixture.sol";
import {vm} from "../utils/Vm.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";

/// @notice The voucher suite with two funded clients, and helpers that publish vouchers and
/// answer them the way a client and an honest prover do (PROTOCOL §5.8 "Publication").
abstract contract PublicationFixture is VoucherFixture {
    uint128 internal constant MAX_CHARGE = uint128(V_IN) * IN_PRICE + uint128(V_MAX_OUT) * OUT_PRICE;
    // collateralBps 20,000 and missedPenaltyBps 5,000: the penalty equals the maximum charge.
    uint128 internal constant PENALTY = MAX_CHARGE * 20_000 / 10_000 * 5_000 / 10_000;

    function setUp() public {
        setUpVouchers();
        depositFor(clientA, 1e18);
        depositFor(clientB, 1e18);
    }

    function signed(address who, uint64 nonce) internal view returns (IVoucherEscrow.Voucher memory v, bytes memory sig) {
        v = voucherFor(who, nonce);
        sig = sign(keyOf(who), vouchers.voucherDigest(v));
    }

    function publishAs(address who, uint64 nonce) internal returns (bytes32 h) {
        (IVoucherEscrow.Voucher memory v, bytes memory sig) = signed(who, nonce);
        vm.prank(who);
        h = publication.publish(v, sig, promptBytes());
    }

    /// Answer with leaf `index` of a one-client batch (its only debit).
    function answerWith(bytes32 h, Built memory b, uint32 index) internal {
        publication.answer(h, b.header, b.debits, 0, b.leaves[index], index, proof(b.hashes, index));
    }
}
