// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {EscrowParams} from "../../../contracts/escrow/EscrowParams.sol";
import {TestToken} from "../../../contracts/mocks/TestToken.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {AuditParams} from "../../../contracts/audit/AuditParams.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";
import {vm} from "./Vm.sol";
import {Assertions} from "./Assertions.sol";

/// @notice Deploys the settlement suite wired as in production, with this contract acting as
/// governance and as the dispute game (so tests can drive the dispute hook directly), and one
/// verifier (`auditor`) in the model's audit pool (no job opens with an empty pool, §9.4).
abstract contract Suite is Assertions {
    /// @dev OpCodes.COUNT, as production registers.
    uint8 internal constant OP_COUNT = 20;
    bytes32 internal constant MODEL = keccak256("tiny-llama-test");
    uint128 internal constant IN_PRICE = 2e12;
    uint128 internal constant OUT_PRICE = 5e12;
    uint128 internal constant MIN_PROVER_STAKE = 100e18;
    uint128 internal constant MIN_VERIFIER_STAKE = 10e18;
    uint64 internal constant UNBONDING_DELAY = 7 days;

    TestToken internal token;
    ModelRegistry internal models;
    NodeRegistry internal nodes;
    JobEscrow internal escrow;
    AuditManager internal audits;

    address internal treasury = address(0x7EA5);
    address internal prover = address(0xB0B);
    address internal client = address(0xC11E);
    address internal challenger = address(0xC4A1);
    address internal auditor = address(0xA0D1);
    uint128 internal constant AUDIT_BOND = 10e18;

    function defaultParams() internal pure returns (EscrowParams.Params memory) {
        return EscrowParams.Params({
            feeBps: 250,
            commitTimeout: 600,
            challengeWindow: 3600,
            collateralBps: 20_000,
            minCollateral: 1e18,
            missedCommitPenaltyBps: 5_000,
            challengerRewardBps: 5_000,
            declineWindow: 120,
            maxPublishedPerProver: 4
        });
    }

    function defaultAuditParams() internal pure returns (AuditParams.Params memory) {
        return AuditParams.Params({
            auditRateBps: 1_000,
            boundaries: 2,
            slashShareBps: 5_000,
            jailPeriod: 7 days,
            auditFeeBps: 500,
            auditPeriod: 1_800,
            vestDelay: 1 days,
            lazySlashBps: 10_000,
            maxMisses: 3,
            minBond: AUDIT_BOND,
            leaveDelay: 2 days
        });
    }

    function deploySuite() internal {
        deploySuiteWith(IERC20(address(0)), address(this));
    }

    /// @param customToken A hostile token to test against, or zero for the standard test token.
    /// @param game The dispute game to wire, or zero to wire one later.
    function deploySuiteWith(IERC20 customToken, address game) internal {
        IERC20 payToken = customToken;
        if (address(customToken) == address(0)) {
            token = new TestToken(address(this));
            payToken = IERC20(address(token));
        }
        models = new ModelRegistry(address(this), OP_COUNT);
        nodes = new NodeRegistry(
            address(this), payToken, models, MIN_PROVER_STAKE, MIN_VERIFIER_STAKE, UNBONDING_DELAY, treasury
        );
        escrow = new JobEscrow(address(this), payToken, nodes, models, defaultParams());
        audits = new AuditManager(address(this), escrow, nodes, models, defaultAuditParams());
        nodes.grantRole(nodes.ESCROW_ROLE(), address(escrow));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(escrow));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(audits));
        nodes.grantRole(nodes.AUDIT_ROLE(), address(audits));
        escrow.setAuditManager(address(audits));
        escrow.setTreasury(treasury);
        if (game != address(0)) escrow.setDisputeGame(game);
        registerModel(MODEL);
        if (address(customToken) == address(0)) joinAuditPool(auditor);
    }

    /// @notice Register `who` as a verifier and put it in MODEL's audit pool.
    function joinAuditPool(address who) internal {
        fund(who, AUDIT_BOND);
        vm.prank(who);
        nodes.register(INodeRegistry.Role.Verifier, AUDIT_BOND, "http://127.0.0.1:8700");
        vm.prank(who);
        audits.joinPool(MODEL);
    }

    /// @notice Mine the block after the current one with a chosen hash for the current block, so
    /// a draw seeded by it is fixed: a hash of 0 makes every draw of this block lapse (no audit).
    function nextBlockWithHash(bytes32 hash) internal {
        uint256 seedBlock = block.number;
        vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, hash);
    }

    function arch() internal pure returns (IModelRegistry.Architecture memory) {
        return IModelRegistry.Architecture({
            layers: 4,
            hidden: 64,
            heads: 4,
            kvHeads: 2,
            ffn: 176,
            vocab: 259,
            context: 512,
            normEpsBits: 0x3727c5ac, // 1e-5f
            ropeTheta: 10_000
        });
    }

    function tolerances() internal pure returns (IModelRegistry.OpTolerance[] memory t) {
        t = new IModelRegistry.OpTolerance[](OP_COUNT);
        for (uint256 i; i < OP_COUNT; ++i) {
            t[i] = IModelRegistry.OpTolerance({atol: uint64(1 << 20), rtol: uint64(1 << 22)});
        }
    }

    function registerModel(bytes32 modelId) internal {
        models.registerModel(
            modelId,
            keccak256(abi.encode("weights", modelId)),
            keccak256(abi.encode("manifest", modelId)),
            arch(),
            IModelRegistry.Encoding({traceDtype: 1, weightsDtype: 1, chunkSize: 64}),
            tolerances()
        );
    }

    function fund(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(nodes), type(uint256).max);
        vm.prank(who);
        token.approve(address(escrow), type(uint256).max);
    }

    function registerProver(address who, uint128 stake) internal {
        fund(who, stake);
        vm.prank(who);
        nodes.register(INodeRegistry.Role.Prover, stake, "http://127.0.0.1:8600");
        vm.prank(who);
        nodes.setOffer(MODEL, IN_PRICE, OUT_PRICE);
    }

    /// @notice Three prompt tokens, uint32 big-endian each (PROTOCOL §5.6).
    function promptBytes() internal pure returns (bytes memory) {
        return abi.encodePacked(uint32(256), uint32(72), uint32(105));
    }

    /// @notice Job terms for `inputTokens` prompt tokens. The promptRoot is that of promptBytes()
    /// (3 tokens); tests that publish the prompt open with inputTokens = 3.
    function jobParams(address who, uint32 inputTokens, uint32 maxOut) internal pure returns (IJobEscrow.OpenJobParams memory) {
        return IJobEscrow.OpenJobParams({
            prover: who,
            modelId: MODEL,
            promptRoot: TokenRoot.root(promptBytes(), 0),
            samplingParams: 0,
            inputTokens: inputTokens,
            maxOutputTokens: maxOut,
            inputPrice: IN_PRICE,
            outputPrice: OUT_PRICE
        });
    }

    function openJob(uint32 inputTokens, uint32 maxOut) internal returns (uint256 jobId) {
        fund(client, uint256(inputTokens) * IN_PRICE + uint256(maxOut) * OUT_PRICE);
        vm.prank(client);
        jobId = escrow.openJob(jobParams(prover, inputTokens, maxOut));
    }

    /// @notice Commit, then move to the next block with the commit block's hash zeroed: the
    /// job's audit draw lapses (unaudited), so the test's dispute hook calls are not subject to
    /// an auditor's priority. Audit tests set their own hashes.
    function commit(uint256 jobId, uint32 outTok) internal {
        vm.prank(prover);
        escrow.commitResult(jobId, keccak256("trace"), keccak256("output"), outTok);
        nextBlockWithHash(bytes32(0));
    }

    /// @notice Every token the two custodial contracts hold is owed to someone.
    function assertSolvent() internal view {
        IERC20 t = escrow.token();
        assertEq(
            t.balanceOf(address(escrow)), escrow.totalEscrowed() + escrow.totalCredits() + escrow.auditPool(), "escrow solvency"
        );
        assertEq(
            t.balanceOf(address(nodes)),
            nodes.totalStaked() + nodes.totalUnbonding() + nodes.totalCredits(),
            "registry solvency"
        );
    }
}
