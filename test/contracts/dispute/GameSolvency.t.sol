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
import {CommitmentLeaf} from "../../../contracts/libraries/CommitmentLeaf.sol";

/// @notice The cheatcodes used here (Hardhat's Solidity test runner serves them).
interface DisputeVm {
    function prank(address sender) external;
    function warp(uint256 timestamp) external;
}

DisputeVm constant dvm = DisputeVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

// One 4-element chunk per source (binary32 step, binary16 trace): a one-leaf tree's root is
// its leaf (PROTOCOL §3.3), so the handler can reveal it with an empty proof.
bytes constant CHUNK16 = hex"003c003c003c003c";
bytes constant CHUNK32 = hex"0000803f0000803f0000803f0000803f";

function stepLeafRoot() pure returns (bytes32) {
    return CommitmentLeaf.leaf(CommitmentLeaf.STEP_DOMAIN, 1, 0, 0, keccak256(CHUNK32));
}

function traceLeafRoot() pure returns (bytes32) {
    return CommitmentLeaf.leaf(CommitmentLeaf.TRACE_DOMAIN, 0, 0, 0, keccak256(CHUNK16));
}

/// @notice Random sequences of opens, step roots, demands and reveals (step and trace leaves),
/// time jumps, timeouts, cancellations and withdrawals by several challengers on several jobs.
contract GameHandler {
    StepProofGame public immutable game;
    MockJobEscrow public immutable escrow;
    DisputeToken public immutable token;
    address public constant PROVER = address(0xB0B);
    address[3] public challengers = [address(0xC1), address(0xC2), address(0xC3)];
    bytes32[] public ids;
    /// Ghost: bonds of disputes this handler saw opened and not yet ended.
    uint256 public ghostLive;
    /// Ghost: demand fees escrowed and neither credited nor refunded yet.
    uint256 public ghostFees;
    mapping(bytes32 id => StepProofGame.Leaf[]) internal _demanded;

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
        bytes32 root = seed % 4 == 0 ? keccak256(abi.encode(seed)) : stepLeafRoot();
        try game.postStepRoot(ids[seed % ids.length], root) {} catch {}
    }

    function demand(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        uint256 n = 1 + (seed >> 8) % 3;
        StepProofGame.Leaf[] memory leaves = new StepProofGame.Leaf[](n);
        for (uint256 i = 0; i < n; ++i) {
            leaves[i] = (seed >> (16 + i)) % 2 == 0 ? StepProofGame.Leaf(2, 1, 0, 0) : StepProofGame.Leaf(0, 0, 0, 0);
        }
        dvm.prank(game.getDispute(id).challenger);
        try game.demandChunks(id, leaves) {
            ghostFees += n * game.demandFee();
            delete _demanded[id];
            for (uint256 i = 0; i < n; ++i) _demanded[id].push(leaves[i]);
        } catch {}
    }

    function reveal(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        StepProofGame.Leaf[] memory leaves = _demanded[id];
        uint256 n = leaves.length;
        bytes[] memory data = new bytes[](n);
        bytes32[][] memory proofs = new bytes32[][](n);
        for (uint256 i = 0; i < n; ++i) {
            // Reveal a random subset (a split answer) unless the seed says all.
            if (seed % 3 != 0 && (seed >> (8 + i)) % 2 == 0) continue;
            data[i] = leaves[i].src == 2 ? CHUNK32 : CHUNK16;
        }
        uint128 before = game.getDispute(id).feesPending;
        dvm.prank(PROVER);
        try game.revealChunks(id, leaves, data, proofs) {
            ghostFees -= before - game.getDispute(id).feesPending;
        } catch {}
    }

    function warp(uint256 seed) external {
        dvm.warp(block.timestamp + seed % 5000);
    }

    function timeout(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        uint128 fees = game.getDispute(id).feesPending;
        try game.claimTimeout(id) {
            ghostLive -= game.challengerBond();
            ghostFees -= fees;
        } catch {}
    }

    function cancel(uint256 seed) external {
        if (ids.length == 0) return;
        bytes32 id = ids[seed % ids.length];
        uint128 fees = game.getDispute(id).feesPending;
        try game.cancelAfterSlash(id) {
            ghostLive -= game.challengerBond();
            ghostFees -= fees;
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
        game = new StepProofGame(escrow, models, new StepJudge(), token, 1e18, 0, 3600, 7200, 1e15);
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
            job.traceRoot = traceLeafRoot();
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

    /// INVARIANT: the game holds exactly the open bonds, the escrowed demand fees and what it
    /// has credited.
    function invariant_solvency() public view {
        uint256 owed = game.bondsHeld() + game.feesHeld() + game.totalCredits();
        require(token.balanceOf(address(game)) == owed, "balance != bondsHeld + feesHeld + totalCredits");
    }

    /// INVARIANT: escrowed fees are exactly those of demanded, unrevealed, unresolved leaves.
    function invariant_feesMatchPendingLeaves() public view {
        require(game.feesHeld() == handler.ghostFees(), "feesHeld != pending demand fees");
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
