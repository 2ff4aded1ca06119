// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Test payment token for local chains and testnets (never deploy to mainnet)
/// @notice ERC-20 with EIP-2612 permit; the owner mints.
contract TestToken is ERC20, ERC20Permit, Ownable {
    constructor(address owner_) ERC20("stepproof test token", "STEP") ERC20Permit("stepproof test token") Ownable(owner_) {}

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
