// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface ITokenReceiver {
    function onTokenReceived() external;
}

/// @notice ERC-20 that calls the recipient back on every transfer (as ERC-777 hooks do), to
/// test that the game's payouts cannot be re-entered.
contract ReentrantToken is ERC20 {
    constructor() ERC20("reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from != address(0) && to.code.length > 0) {
            // Recipients without the hook (the game itself) are fine; the result is ignored.
            (bool ok,) = to.call(abi.encodeCall(ITokenReceiver.onTokenReceived, ()));
            ok;
        }
    }
}

interface IWithdraw {
    function withdraw() external;
    function openDispute(uint256 jobId, uint32 position, uint32 layer) external returns (bytes32);
}

interface IApprove {
    function approve(address spender, uint256 amount) external returns (bool);
}

/// @notice A challenger contract that tries to withdraw twice by re-entering from the hook.
contract ReentrantChallenger {
    IWithdraw public immutable game;
    bool public reentered;
    bool public reentrySucceeded;

    constructor(IWithdraw game_) {
        game = game_;
    }

    function approve(address token, uint256 amount) external {
        IApprove(token).approve(address(game), amount);
    }

    function open(uint256 jobId, uint32 position, uint32 layer) external returns (bytes32) {
        return game.openDispute(jobId, position, layer);
    }

    function withdraw() external {
        game.withdraw();
    }

    function onTokenReceived() external {
        if (msg.sender == address(0) || reentered) return;
        reentered = true;
        try game.withdraw() {
            reentrySucceeded = true;
        } catch {}
    }
}
