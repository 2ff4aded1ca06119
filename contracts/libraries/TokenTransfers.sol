// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Exact token pulls
/// @notice Books record amounts the contract holds, so a transfer that delivers less than it
/// claims (fee-on-transfer, rebasing down) must fail instead of silently under-collateralizing.
library TokenTransfers {
    using SafeERC20 for IERC20;

    error TransferShortfall(address token, uint256 expected, uint256 received);

    /// @notice Pull exactly `amount` from `from`; reverts if the balance grew by anything else.
    function pullExact(IERC20 token, address from, uint256 amount) internal {
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert TransferShortfall(address(token), amount, received);
    }
}
