// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StepProofGame} from "../../../contracts/dispute/StepProofGame.sol";
import {StepJudge} from "../../../contracts/dispute/StepJudge.sol";
import {MockJobEscrow} from "../../../contracts/mocks/dispute/MockJobEscrow.sol";
import {MockModelRegistry} from "../../../contracts/mocks/dispute/MockModelRegistry.sol";
import {DisputeToken} from "../../../contracts/mocks/dispute/DisputeToken.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {OpCodes} from "../../../contracts/dispute/OpCodes.sol";
import {CommitmentLeaf} from "../../../contracts/libraries/CommitmentLeaf.sol";
import {CHUNK16, CHUNK32, dvm, stepLeafRoot, traceLeafRoot} from "./GameSolvency.t.sol";

/// @notice Batched data-availability demands (PROTOCOL §7.4): limits, fee accounting, reveals
/// against the demanded list, and which trace leaves a step may demand.
contract GameDemandsTest {
    StepProofGame internal game;
    MockJobEscrow internal escrow;
    DisputeToken internal token;
    address internal constant PROVER = address(0xB0B);
    uint128 internal constant FEE = 1e15;
    uint128 internal constant BOND = 1e18;
    uint32 internal constant POS = 2; // T = 3 positions

    function setUp() public {
        token = new DisputeToken();
        escrow = new MockJobEscrow();
        MockModelRegistry models = new MockModelRegistry();
        game = new StepProofGame(escrow, models, new StepJudge(), token, BOND, 0, 3600, 7200, FEE);
        escrow.setGame(address(game));
        IModelRegistry.OpTolerance[] memory tol = new IModelRegistry.OpTolerance[](OpCodes.COUNT);
        // L = 2, d = 32, 4 / 2 heads, ffn 48, vocab 40, C = 4: 8 chunks per hidden row.
        models.registerModel(
            keccak256("m"),
            bytes32(0),
            bytes32(0),
            IModelRegistry.Architecture(2, 32, 4, 2, 48, 40, 64, 0x3727c5ac, 10000),
            IModelRegistry.Encoding(1, 1, 4),
            tol
        );
        IJobEscrow.Job memory job;
        job.prover = PROVER;
        job.modelId = keccak256("m");
        job.traceRoot = traceLeafRoot();
        job.inputTokens = 3;
        job.outputTokens = 4;
        job.challengeDeadline = uint64(block.timestamp + 100 days);
        job.status = IJobEscrow.JobStatus.Committed;
        escrow.setJob(1, job);
        token.mint(address(this), 1000e18);
        token.approve(address(game), type(uint256).max);
    }

    // ---------------------------------------------------------------- helpers

    function _open(uint32 layer) internal returns (bytes32 id) {
        id = game.openDispute(1, POS, layer);
        dvm.prank(PROVER);
        game.postStepRoot(id, stepLeafRoot());
    }

    function _leaves(uint8 src, uint256 tensor, uint256 row, uint256 chunk, uint256 n)
        internal
        pure
        returns (StepProofGame.Leaf[] memory l)
    {
        l = new StepProofGame.Leaf[](n);
        for (uint256 i = 0; i < n; ++i) l[i] = StepProofGame.Leaf(src, tensor, row, chunk);
    }

    function _answer(StepProofGame.Leaf[] memory leaves, uint256 mask)
        internal
        pure
        returns (bytes[] memory data, bytes32[][] memory proofs)
    {
        data = new bytes[](leaves.length);
        proofs = new bytes32[][](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            if ((mask >> i) & 1 == 1) data[i] = leaves[i].src == 2 ? CHUNK32 : CHUNK16;
        }
    }

    function _expectRevert(bytes memory call, bytes4 selector) internal {
        (bool ok, bytes memory ret) = address(game).call(call);
        require(!ok, "expected a revert");
        require(ret.length >= 4 && bytes4(ret) == selector, "wrong revert reason");
    }

    function _demand(bytes32 id, StepProofGame.Leaf[] memory leaves) internal pure returns (bytes memory) {
        return abi.encodeCall(StepProofGame.demandChunks, (id, leaves));
    }

    // ---------------------------------------------------------------- tests

    function test_demand_revertsOnEmptyOrOversizedBatch() public {
        bytes32 id = _open(1);
        _expectRevert(_demand(id, _leaves(2, 1, 0, 0, 0)), StepProofGame.DemandSize.selector);
        _expectRevert(_demand(id, _leaves(2, 1, 0, 0, 17)), StepProofGame.DemandSize.selector);
        game.demandChunks(id, _leaves(2, 1, 0, 0, 16));
        require(game.getDispute(id).demandCount == 16, "16 leaves demanded");
    }

    function test_demand_revertsBeyondRoundLimit() public {
        bytes32 id = _open(1);
        StepProofGame.Leaf[] memory one = _leaves(2, 1, 0, 0, 1);
        (bytes[] memory data, bytes32[][] memory proofs) = _answer(one, 1);
        for (uint256 r = 0; r < game.MAX_DEMAND_ROUNDS(); ++r) {
            game.demandChunks(id, one);
            dvm.prank(PROVER);
            game.revealChunks(id, one, data, proofs);
        }
        require(game.getDispute(id).roundsUsed == game.MAX_DEMAND_ROUNDS(), "rounds counted");
        _expectRevert(_demand(id, one), StepProofGame.DemandLimitReached.selector);
    }

    function test_demandFee_escrowedCreditedOnRevealRefundedOnTimeout() public {
        bytes32 id = _open(1);
        uint256 balance0 = token.balanceOf(address(this));
        StepProofGame.Leaf[] memory three = _leaves(2, 1, 0, 0, 3);
        three[2] = StepProofGame.Leaf(0, 0, 0, 0); // a trace leaf, revealed against the trace root
        game.demandChunks(id, three);
        require(token.balanceOf(address(this)) == balance0 - 3 * FEE, "fees pulled");
        require(game.feesHeld() == 3 * FEE && game.getDispute(id).feesPending == 3 * FEE, "fees escrowed");

        // A split answer: leaves 0 and 2 now, leaf 1 later; the turn stays with the prover.
        (bytes[] memory data, bytes32[][] memory proofs) = _answer(three, 5);
        dvm.prank(PROVER);
        game.revealChunks(id, three, data, proofs);
        require(game.credits(PROVER) == 2 * FEE, "prover credited per revealed leaf");
        require(game.getDispute(id).phase == StepProofGame.Phase.AwaitingData, "still the prover's turn");
        require(game.getDispute(id).revealedMask == 5, "mask");
        (data, proofs) = _answer(three, 2);
        dvm.prank(PROVER);
        game.revealChunks(id, three, data, proofs);
        require(game.credits(PROVER) == 3 * FEE && game.feesHeld() == 0, "all fees credited");
        require(game.getDispute(id).phase == StepProofGame.Phase.AwaitingProof, "challenger's turn");

        // Unanswered: the prover times out and the fees go back with the bond.
        game.demandChunks(id, _leaves(2, 1, 0, 0, 2));
        dvm.warp(game.deadlineOf(id) + 1);
        game.claimTimeout(id);
        require(game.credits(address(this)) == BOND + 2 * FEE, "bond and fees back to the challenger");
        require(game.feesHeld() == 0 && game.bondsHeld() == 0, "nothing held");
        require(token.balanceOf(address(game)) == game.totalCredits(), "solvent");
    }

    function test_reveal_revertsOnWrongLeavesDataOrRepeats() public {
        bytes32 id = _open(1);
        StepProofGame.Leaf[] memory two = _leaves(2, 1, 0, 0, 2);
        game.demandChunks(id, two);
        StepProofGame.Leaf[] memory other = _leaves(2, 1, 0, 1, 2);
        (bytes[] memory data, bytes32[][] memory proofs) = _answer(two, 1);
        dvm.prank(PROVER);
        _expectRevert(abi.encodeCall(StepProofGame.revealChunks, (id, other, data, proofs)), StepProofGame.DemandMismatch.selector);
        dvm.prank(PROVER);
        _expectRevert(
            abi.encodeCall(StepProofGame.revealChunks, (id, _leaves(2, 1, 0, 0, 1), data, proofs)),
            StepProofGame.DemandMismatch.selector
        );
        bytes[] memory bad = new bytes[](2);
        bad[0] = hex"00000000";
        dvm.prank(PROVER);
        _expectRevert(abi.encodeCall(StepProofGame.revealChunks, (id, two, bad, proofs)), CommitmentLeaf.InvalidChunkProof.selector);
        (bytes[] memory none,) = _answer(two, 0);
        dvm.prank(PROVER);
        _expectRevert(abi.encodeCall(StepProofGame.revealChunks, (id, two, none, proofs)), StepProofGame.NothingRevealed.selector);
        _expectRevert(abi.encodeCall(StepProofGame.revealChunks, (id, two, data, proofs)), StepProofGame.NotProver.selector);
        dvm.prank(PROVER);
        game.revealChunks(id, two, data, proofs);
        dvm.prank(PROVER);
        _expectRevert(abi.encodeCall(StepProofGame.revealChunks, (id, two, data, proofs)), StepProofGame.AlreadyRevealed.selector);
        dvm.prank(PROVER);
        _expectRevert(
            abi.encodeCall(StepProofGame.revealChunks, (id, two, data, new bytes32[][](1))),
            StepProofGame.RevealLengthMismatch.selector
        );
    }

    function test_demand_refusesLeavesOutsideTheStepsReach() public {
        bytes32 id = _open(1); // block step l = 1, t = 2: trace h[0..2][0] and h[0..2][1]
        _expectRevert(_demand(id, _leaves(0, 2, 0, 0, 1)), StepProofGame.NotATraceLeaf.selector); // l + 1
        _expectRevert(_demand(id, _leaves(0, 0, 3, 0, 1)), StepProofGame.NotATraceLeaf.selector); // p > t
        _expectRevert(_demand(id, _leaves(0, 0, 0, 8, 1)), StepProofGame.NotATraceLeaf.selector); // chunk ≥ d/C
        _expectRevert(_demand(id, _leaves(0, type(uint32).max, 0, 0, 1)), StepProofGame.NotATraceLeaf.selector); // tokens
        _expectRevert(_demand(id, _leaves(1, 0, 0, 0, 1)), StepProofGame.UnknownSource.selector); // weights
        _expectRevert(_demand(id, _leaves(2, 33, 0, 0, 1)), StepProofGame.NotAStepLeaf.selector); // OUT is a claim
        StepProofGame.Leaf[] memory ok = new StepProofGame.Leaf[](3);
        ok[0] = StepProofGame.Leaf(0, 0, 2, 7);
        ok[1] = StepProofGame.Leaf(0, 1, 2, 0);
        ok[2] = StepProofGame.Leaf(2, 32, 0, 7);
        game.demandChunks(id, ok);

        bytes32 head = _open(3); // head step: only h[·][L]
        _expectRevert(_demand(head, _leaves(0, 1, 0, 0, 1)), StepProofGame.NotATraceLeaf.selector);
        _expectRevert(_demand(head, _leaves(2, 4, 0, 0, 1)), StepProofGame.NotAStepLeaf.selector); // Q_PART
        game.demandChunks(head, _leaves(0, 2, 2, 0, 1));

        bytes32 embed = _open(0); // embedding step: only h[·][0], no step leaves
        _expectRevert(_demand(embed, _leaves(0, 1, 0, 0, 1)), StepProofGame.NotATraceLeaf.selector);
        _expectRevert(_demand(embed, _leaves(2, 1, 0, 0, 1)), StepProofGame.NotAStepLeaf.selector);
        game.demandChunks(embed, _leaves(0, 0, 1, 3, 1));
    }
}
