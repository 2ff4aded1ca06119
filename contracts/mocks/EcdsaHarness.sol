// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice Exposes the recovery BatchCourt.checkVoucher and VoucherPublication.publish use
/// (OpenZeppelin ECDSA.tryRecover), for the TypeScript differential test of voucher signatures.
contract EcdsaHarness {
    function recover(bytes32 digest, bytes calldata signature) external pure returns (address signer, uint8 error) {
        (address s, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signature);
        return (s, uint8(err));
    }
}
