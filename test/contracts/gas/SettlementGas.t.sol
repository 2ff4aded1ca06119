// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {EscrowParams} from "../../../contracts/escrow/EscrowParams.sol";
import {ModelRegistry} from "../../../contracts/registry/ModelRegistry.sol";
import {JobEscrow} from "../../../contracts/escrow/JobEscrow.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {TraceTree} from "../utils/TraceTree.sol";

/// @notice Records the gas of every external state-changing function of the settlement
/// contracts in snapshots/*.json (`npm run gas:snapshot` rewrites them; `npm test` fails when
/// they drift). Each call is made in a realistic state: warm token balances, a prover with jobs.
contract SettlementGasSnapshot is Suite {
    uint32 constant IN = 3;
    uint32 constant OUT = 50;

    function setUp() public {
        deploySuite();
        registerProver(prover, 1_000e18);
        fund(client, 1_000e18);
    }

    function _open() private returns (uint256 jobId) {
        vm.prank(client);
        jobId = escrow.openJob(jobParams(prover, IN, OUT));
    }

    function test_gas_modelRegistry() public {
        IModelRegistry.Encoding memory enc = IModelRegistry.Encoding({traceDtype: 1, weightsDtype: 1, chunkSize: 64});
        models.registerModel(keccak256("gas"), bytes32(uint256(1)), bytes32(uint256(2)), arch(), enc, tolerances());
        vm.snapshotGasLastCall("ModelRegistry", "registerModel(18 ops)");
    }

    function test_gas_nodeRegistry() public {
        address v = address(0x7E41);
        fund(v, 100e18);
        vm.startPrank(v);
        nodes.register(INodeRegistry.Role.Verifier, 50e18, "http://verifier.example:8700");
        vm.snapshotGasLastCall("NodeRegistry", "register");
        nodes.updateEndpoint("https://verifier.example");
        vm.snapshotGasLastCall("NodeRegistry", "updateEndpoint");
        nodes.topUp(10e18);
        vm.snapshotGasLastCall("NodeRegistry", "topUp");
        vm.stopPrank();

        vm.startPrank(prover);
        nodes.setOffer(MODEL, 3e12, 6e12);
        vm.snapshotGasLastCall("NodeRegistry", "setOffer(update)");
        nodes.removeOffer(MODEL);
        vm.snapshotGasLastCall("NodeRegistry", "removeOffer");
        nodes.requestUnbond(100e18);
        vm.snapshotGasLastCall("NodeRegistry", "requestUnbond");
        vm.warp(block.timestamp + UNBONDING_DELAY);
        nodes.withdrawUnbonded();
        vm.snapshotGasLastCall("NodeRegistry", "withdrawUnbonded");
        vm.stopPrank();

        nodes.setParams(MIN_PROVER_STAKE, MIN_VERIFIER_STAKE, 3 days, treasury);
        vm.snapshotGasLastCall("NodeRegistry", "setParams");
    }

    function test_gas_jobLifecycle() public {
        uint256 jobId = _open();
        vm.snapshotGasLastCall("JobEscrow", "openJob");
        vm.prank(prover);
        escrow.commitResult(jobId, keccak256("t"), keccak256("o"), 40);
        vm.snapshotGasLastCall("JobEscrow", "commitResult");
        vm.warp(block.timestamp + 3601);
        escrow.finalize(jobId);
        vm.snapshotGasLastCall("JobEscrow", "finalize");
        vm.prank(prover);
        escrow.withdraw();
        vm.snapshotGasLastCall("JobEscrow", "withdraw");
    }

    function test_gas_finalizeMany() public {
        uint256[] memory ids = new uint256[](10);
        for (uint256 i; i < 10; ++i) {
            ids[i] = _open();
            vm.prank(prover);
            escrow.commitResult(ids[i], keccak256("t"), keccak256("o"), 40);
        }
        vm.warp(block.timestamp + 3601);
        escrow.finalizeMany(ids);
        vm.snapshotGasLastCall("JobEscrow", "finalizeMany(10 jobs)");
    }

    function test_gas_expiry() public {
        uint256 jobId = _open();
        vm.prank(client);
        escrow.publishPrompt(jobId, promptBytes());
        vm.snapshotGasLastCall("JobEscrow", "publishPrompt(3 tokens)");
        vm.warp(block.timestamp + 601);
        escrow.refundExpired(jobId);
        vm.snapshotGasLastCall("JobEscrow", "refundExpired");
        vm.prank(client);
        nodes.withdrawCredits();
        vm.snapshotGasLastCall("NodeRegistry", "withdrawCredits");
    }

    function test_gas_decline() public {
        uint256 unpublished = _open();
        vm.prank(prover);
        escrow.declineJob(unpublished);
        vm.snapshotGasLastCall("JobEscrow", "declineJob(unpublished)");

        // A 64-token prompt: the cost of publication grows with the prompt (ids + root).
        bytes memory prompt;
        for (uint32 i; i < 64; ++i) prompt = abi.encodePacked(prompt, uint32(i * 4));
        IJobEscrow.OpenJobParams memory p = jobParams(prover, 64, OUT);
        p.promptRoot = TokenRoot.root(prompt, 0);
        vm.prank(client);
        uint256 jobId = escrow.openJob(p);
        vm.prank(client);
        escrow.publishPrompt(jobId, prompt);
        vm.snapshotGasLastCall("JobEscrow", "publishPrompt(64 tokens)");
        vm.prank(prover);
        escrow.declineJob(jobId);
        vm.snapshotGasLastCall("JobEscrow", "declineJob(published)");
    }

    function test_gas_disputeHook() public {
        uint256 jobId = _open();
        vm.prank(prover);
        escrow.commitResult(jobId, keccak256("t"), keccak256("o"), 40);
        nextBlockWithHash(bytes32(0));
        uint32 seq = escrow.onDisputeOpened(jobId, challenger);
        vm.snapshotGasLastCall("JobEscrow", "onDisputeOpened");
        escrow.onDisputeResolved(jobId, seq, true, challenger);
        vm.snapshotGasLastCall("JobEscrow", "onDisputeResolved(fault)");

        vm.warp(block.timestamp + 7 days); // out of jail
        uint256 other = _open();
        vm.prank(prover);
        escrow.commitResult(other, keccak256("t"), keccak256("o"), 40);
        nextBlockWithHash(bytes32(0));
        seq = escrow.onDisputeOpened(other, challenger);
        escrow.onDisputeResolved(other, seq, false, challenger);
        vm.snapshotGasLastCall("JobEscrow", "onDisputeResolved(no fault)");
    }

    function test_gas_openJobWithPermit() public {
        uint256 key = 0xA11CE;
        address signer = vm.addr(key);
        uint256 cost = uint256(IN) * IN_PRICE + uint256(OUT) * OUT_PRICE;
        token.mint(signer, cost);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                signer, address(escrow), cost, token.nonces(signer), block.timestamp + 1
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(signer);
        escrow.openJobWithPermit(jobParams(prover, IN, OUT), block.timestamp + 1, v, r, s);
        vm.snapshotGasLastCall("JobEscrow", "openJobWithPermit");
    }

    function test_gas_governance() public {
        escrow.setParams(defaultParams());
        vm.snapshotGasLastCall("JobEscrow", "setParams");
        escrow.setTreasury(address(0x7EA6));
        vm.snapshotGasLastCall("JobEscrow", "setTreasury");
        JobEscrow fresh = new JobEscrow(address(this), token, nodes, models, defaultParams());
        fresh.setDisputeGame(address(0x6A3E));
        vm.snapshotGasLastCall("JobEscrow", "setDisputeGame");
    }

    // ------------------------------------------------------------------ incentives (§9)

    function _shape(uint256 tokens) private pure returns (TraceTree.Shape memory s) {
        s.tokens = tokens;
        s.layers = 4;
        s.chunks = 1;
    }

    /// Open and commit a job with a real trace root, then mine the next block with a hash.
    function _committed(bytes32 blockHash) private returns (uint256 jobId) {
        jobId = _open();
        bytes32 root = TraceTree.root(TraceTree.leaves(bytes32(jobId), _shape(IN + 40)));
        vm.prank(prover);
        escrow.commitResult(jobId, root, keccak256("o"), 40);
        nextBlockWithHash(blockHash);
    }

    function _report(uint256 jobId) private returns (address who) {
        AuditManager.Assignment memory s = audits.assignment(jobId);
        TraceTree.Shape memory shape = _shape(IN + 40);
        bytes memory chunk = TraceTree.chunkBytes(bytes32(jobId), s.probeBoundary, s.probeRow, s.probeChunk);
        bytes32[] memory proof = TraceTree.proof(
            TraceTree.leaves(bytes32(jobId), shape), TraceTree.hiddenIndex(shape, s.probeBoundary, s.probeRow, s.probeChunk)
        );
        who = s.auditor;
        vm.prank(who);
        audits.reportAudit(jobId, chunk, proof);
    }

    /// Pools of eight, every job audited (rate 100%) so each call takes its full path.
    function test_gas_auditManager() public {
        bytes32 model2 = keccak256("gas-second-model");
        registerModel(model2);
        address v = address(0x7E42);
        fund(v, 30e18);
        vm.prank(v);
        nodes.register(INodeRegistry.Role.Verifier, 30e18, "http://verifier.example:8700");
        vm.prank(v);
        audits.joinPool(MODEL);
        vm.snapshotGasLastCall("AuditManager", "joinPool(first pool, locks the bond)");
        vm.prank(v);
        audits.joinPool(model2);
        vm.snapshotGasLastCall("AuditManager", "joinPool(another pool)");
        for (uint256 i; i < 6; ++i) joinAuditPool(address(uint160(0x9000 + i)));
        vm.prank(v);
        audits.leavePool(model2);
        vm.snapshotGasLastCall("AuditManager", "leavePool");
        vm.roll(block.number + 1);

        audits.setModelAuditRate(MODEL, 10_000);
        fund(address(this), 10e18);
        escrow.fundAuditPool(10e18);
        vm.snapshotGasLastCall("JobEscrow", "fundAuditPool");

        // A prover with open exposure: the deterrence check reads the pool and the model.
        _open();
        _open();
        vm.snapshotGasLastCall("JobEscrow", "openJob(exposure already open)");

        uint256 paid = _committed(keccak256("paid"));
        audits.fixDraw(paid);
        vm.snapshotGasLastCall("AuditManager", "fixDraw(8 members)");
        address paidAuditor = _report(paid);
        vm.snapshotGasLastCall("AuditManager", "reportAudit");
        vm.warp(block.timestamp + 1 days);
        uint256[] memory ids = new uint256[](1);
        ids[0] = paid;
        vm.prank(paidAuditor);
        audits.claimAuditPay(ids);
        vm.snapshotGasLastCall("AuditManager", "claimAuditPay(1 job)");

        uint256 missed = _committed(keccak256("missed"));
        audits.fixDraw(missed);
        vm.warp(block.timestamp + 1_801);
        audits.recordMiss(missed);
        vm.snapshotGasLastCall("AuditManager", "recordMiss");

        audits.grantRole(audits.CANARY_ROLE(), address(this));
        uint256 canary = _open();
        audits.commitCanary(keccak256(abi.encode(prover, bytes32("salt"))));
        vm.snapshotGasLastCall("AuditManager", "commitCanary");
        vm.roll(block.number + 1);
        bytes32 root = TraceTree.root(TraceTree.leaves(bytes32(canary), _shape(IN + 40)));
        vm.prank(prover);
        escrow.commitResult(canary, root, keccak256("o"), 40);
        vm.snapshotGasLastCall("JobEscrow", "commitResult(seeds the draw)");
        nextBlockWithHash(keccak256("canary"));
        _report(canary); // fixes the draw on the way
        vm.snapshotGasLastCall("AuditManager", "reportAudit(fixes the draw)");
        vm.prank(prover);
        audits.exposeCanary(canary, bytes32("salt"));
        vm.snapshotGasLastCall("AuditManager", "exposeCanary(slashes and ejects)");

        vm.warp(block.timestamp + 2 days);
        vm.prank(v);
        audits.leavePool(MODEL);
        vm.warp(block.timestamp + 2 days);
        vm.prank(v);
        audits.releaseBond();
        vm.snapshotGasLastCall("AuditManager", "releaseBond");
    }
}
