// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StepProofGame} from "../../../contracts/dispute/StepProofGame.sol";
import {StepJudge} from "../../../contracts/dispute/StepJudge.sol";
import {IStepJudge} from "../../../contracts/dispute/IStepJudge.sol";
import {MockJobEscrow} from "../../../contracts/mocks/dispute/MockJobEscrow.sol";
import {MockModelRegistry} from "../../../contracts/mocks/dispute/MockModelRegistry.sol";
import {DisputeToken} from "../../../contracts/mocks/dispute/DisputeToken.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {OpCodes} from "../../../contracts/dispute/OpCodes.sol";

/// @notice The cheatcodes used here (Hardhat's Solidity test runner serves them).
interface DisputeVm {
    function prank(address sender) external;
    function warp(uint256 timestamp) external;
}

DisputeVm constant dvm = DisputeVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

/// @notice Random sequences of opens, step roots, time jumps, timeouts, cancellations and
/// withdrawals by several challengers on several jobs.
contract GameHandler {
    StepProofGame public immutable game;
    MockJobEscrow public immutable escrow;
    DisputeToken public immutable token;
    address public constant PROVER = address(0xB0B);
    address[3] public challengers = [address(0xC1), address(0xC2), address(0xC3)];
    bytes32[] public ids;
    /// Ghost: bonds of disputes this handler saw opened and not yet ended.
    uint256 public ghostLive;

    constructor(StepProofGame game_, MockJobEscrow escrow_, DisputeToken token_) {
        game = game_;
        escrow = escrow_;
        token = token_;
    }

    function open(uint256 seed) external {
        address who = challengers[seed % 3];
        uint256 jobId = 1 + (seed >> 8) % 4;
        dvm.prank(who);
        try game.openDispute(jobId, uint32((seed >> 16) % 4), uint32((seed >> 24) % 3)) returns (bytes32 id) {
            ids.push(id);
            ghostLive += game.challengerBond();
        } catch {}
    }

    function post(uint256 seed) external {
        if (ids.length == 0) return;
        dvm.prank(PROVER);
        try game.postStepRoot(ids[seed % ids.length], keccak256(abi.encode(seed))) {} catch {}
    }

    function demand(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        dvm.prank(game.getDispute(id).challenger);
        try game.demandChunk(id, 1, 0, 0) {} catch {}
    }

    function warp(uint256 seed) external {
        dvm.warp(block.timestamp + seed % 5000);
    }

    function timeout(uint256 seed) external {
        if (ids.length == 0) return;
        try game.claimTimeout(ids[seed % ids.length]) {
            ghostLive -= game.challengerBond();
        } catch {}
    }

    function cancel(uint256 seed) external {
        if (ids.length == 0) return;
        try game.cancelAfterSlash(ids[seed % ids.length]) {
            ghostLive -= game.challengerBond();
        } catch {}
    }

    function withdraw(uint256 seed) external {
        address who = seed % 4 == 3 ? PROVER : challengers[seed % 3];
        dvm.prank(who);
        try game.withdraw() {} catch {}
    }
}

contract GameSolvencyTest {
    StepProofGame internal game;
    MockJobEscrow internal escrow;
    DisputeToken internal token;
    GameHandler internal handler;

    function setUp() public {
        token = new DisputeToken();
        escrow = new MockJobEscrow();
        MockModelRegistry models = new MockModelRegistry();
        game = new StepProofGame(escrow, models, new StepJudge(), token, 1e18, 3600, 7200);
        escrow.setGame(address(game));
        handler = new GameHandler(game, escrow, token);

        IModelRegistry.OpTolerance[] memory tol = new IModelRegistry.OpTolerance[](OpCodes.COUNT);
        models.registerModel(
            keccak256("m"),
            bytes32(0),
            bytes32(0),
            IModelRegistry.Architecture(2, 32, 4, 2, 48, 40, 64, 0x3727c5ac, 10000),
            IModelRegistry.Encoding(1, 1, 4),
            tol
        );
        for (uint256 j = 1; j <= 4; ++j) {
            IJobEscrow.Job memory job;
            job.prover = handler.PROVER();
            job.modelId = keccak256("m");
            job.traceRoot = keccak256(abi.encode(j));
            job.inputTokens = 3;
            job.outputTokens = 4;
            job.challengeDeadline = uint64(block.timestamp + 100 days);
            job.status = IJobEscrow.JobStatus.Committed;
            escrow.setJob(j, job);
        }
        for (uint256 i = 0; i < 3; ++i) {
            address c = handler.challengers(i);
            token.mint(c, 1000e18);
            dvm.prank(c);
            token.approve(address(game), type(uint256).max);
        }
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// INVARIANT: the game holds exactly the open bonds plus what it has credited.
    function invariant_solvency() public view {
        uint256 owed = game.bondsHeld() + game.totalCredits();
        require(token.balanceOf(address(game)) == owed, "balance != bondsHeld + totalCredits");
    }

    /// INVARIANT: bonds held are exactly the bonds of disputes still running.
    function invariant_bondsMatchLiveDisputes() public view {
        require(game.bondsHeld() == handler.ghostLive(), "bondsHeld != live bonds");
    }

    function test_judgeRejectsWrongOpeningCount() public view {
        IStepJudge.Context memory c;
        c.hidden = 32;
        c.heads = 4;
        c.kvHeads = 2;
        c.ffn = 48;
        c.chunkSize = 4;
        c.layer = 1;
        c.layers = 2;
        c.position = 1;
        IStepJudge.Opening[] memory o = new IStepJudge.Opening[](1);
        try game.judge().judge(c, IStepJudge.Claim(22, 0, 0), o) {
            revert("expected WrongOpeningCount");
        } catch (bytes memory reason) {
            require(bytes4(reason) == IStepJudge.WrongOpeningCount.selector, "wrong error");
        }
    }
}
