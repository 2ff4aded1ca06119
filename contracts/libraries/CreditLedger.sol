// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Pull-payment ledger (docs/PROTOCOL.md §5)
/// @notice Payouts are credited here and withdrawn by their owner, so a payee whose transfers
/// revert only blocks itself. `totalCredits` is part of each contract's solvency equation.
abstract contract CreditLedger {
    using SafeERC20 for IERC20;

    /// @notice Sum of all `credits`: tokens this contract owes to payees.
    uint256 public totalCredits;
    mapping(address account => uint256) public credits;

    error NothingToWithdraw(address account);
    error InsufficientCredit(address account, uint256 have, uint256 need);

    event CreditWithdrawn(address indexed account, uint256 amount);

    function _credit(address account, uint256 amount) internal {
        if (amount == 0) return;
        credits[account] += amount;
        totalCredits += amount;
    }

    /// @dev Move a credit between accounts; the total owed is unchanged.
    function _transferCredit(address from, address to, uint256 amount) internal {
        uint256 have = credits[from];
        if (amount > have) revert InsufficientCredit(from, have, amount);
        credits[from] = have - amount;
        credits[to] += amount;
    }

    /// @dev Effects before the transfer; callers guard with nonReentrant.
    function _withdrawCredits(IERC20 token) internal {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        credits[msg.sender] = 0;
        totalCredits -= amount;
        token.safeTransfer(msg.sender, amount);
        emit CreditWithdrawn(msg.sender, amount);
    }
}
