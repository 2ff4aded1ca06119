// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {TraceTree} from "../utils/TraceTree.sol";
import {vm} from "../utils/Vm.sol";
import {AuditManager} from "../../../contracts/audit/AuditManager.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";
import {INodeRegistry} from "../../../contracts/interfaces/INodeRegistry.sol";
import {IModelRegistry} from "../../../contracts/interfaces/IModelRegistry.sol";

/// @notice Audit tests on the full suite: jobs committed with a real trace tree, draws steered by
/// choosing the seed block's hash (`vm.setBlockhash`), and the expected draw computed here from
/// PROTOCOL §9.1 — never read back from the contract under test.
abstract contract AuditFixture is Suite {
    uint32 internal constant IN_TOK = 3;
    uint32 internal constant MAX_OUT = 8;
    uint32 internal constant OUT_TOK = 4;
    uint256 internal constant BPS = 10_000;
    address internal funder = address(0xF00D);

    function setUpAudits() internal {
        deploySuite();
        registerProver(prover, 1_000e18);
        // The pool's auditor joined in this block: it is drawable from the next seed block on.
        vm.roll(block.number + 1);
    }

    // ------------------------------------------------------------------ expected draw (§9.1)

    function seedOf(bytes32 blockHash, uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode(blockHash, jobId));
    }

    function auditedBy(bytes32 seed, uint256 rateBps) internal pure returns (bool) {
        return uint256(seed) % BPS < rateBps;
    }

    function scoreOf(bytes32 seed, address member) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, member)));
    }

    /// @notice The candidate with the smallest keccak256(seed, member), or zero for none.
    function lowestScore(bytes32 seed, address[] memory candidates) internal pure returns (address best) {
        uint256 bestScore = type(uint256).max;
        for (uint256 i; i < candidates.length; ++i) {
            uint256 s = scoreOf(seed, candidates[i]);
            if (s < bestScore) (bestScore, best) = (s, candidates[i]);
        }
    }

    /// @notice A block hash under which `jobId` is audited at `rateBps`.
    function hashAuditing(uint256 jobId, uint256 rateBps, string memory tag) internal pure returns (bytes32 h) {
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode(tag, i));
            if (auditedBy(seedOf(h, jobId), rateBps)) return h;
        }
    }

    /// @notice A block hash under which `jobId` is audited and `target` scores lowest among
    /// `candidates` (so the test can tell whether the contract let `target` take part).
    function hashFavouring(uint256 jobId, uint256 rateBps, address[] memory candidates, address target)
        internal
        pure
        returns (bytes32 h)
    {
        for (uint256 i;; ++i) {
            h = keccak256(abi.encode("favour", target, i));
            bytes32 seed = seedOf(h, jobId);
            if (auditedBy(seed, rateBps) && lowestScore(seed, candidates) == target) return h;
        }
    }

    function list(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function list(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        (l[0], l[1]) = (a, b);
    }

    function list(address a, address b, address c) internal pure returns (address[] memory l) {
        l = new address[](3);
        (l[0], l[1], l[2]) = (a, b, c);
    }

    function list(address a, address b, address c, address d) internal pure returns (address[] memory l) {
        l = new address[](4);
        (l[0], l[1], l[2], l[3]) = (a, b, c, d);
    }

    function list(address a, address b, address c, address d, address e) internal pure returns (address[] memory l) {
        l = new address[](5);
        (l[0], l[1], l[2], l[3], l[4]) = (a, b, c, d, e);
    }

    // ------------------------------------------------------------------ jobs with real traces

    function traceSalt(uint256 jobId) internal pure returns (bytes32) {
        return keccak256(abi.encode("trace", jobId));
    }

    function shapeOf(bytes32 modelId, uint256 tokens) internal view returns (TraceTree.Shape memory s) {
        IModelRegistry.Model memory m = models.getModel(modelId);
        s.tokens = tokens;
        s.layers = m.arch.layers;
        s.chunks = (uint256(m.arch.hidden) + m.encoding.chunkSize - 1) / m.encoding.chunkSize;
    }

    function openAs(address who, uint32 inTok, uint32 maxOut) internal returns (uint256 jobId) {
        fund(client, uint256(inTok) * IN_PRICE + uint256(maxOut) * OUT_PRICE);
        vm.prank(client);
        jobId = escrow.openJob(jobParams(who, inTok, maxOut));
    }

    function openStandard() internal returns (uint256) {
        return openAs(prover, IN_TOK, MAX_OUT);
    }

    /// @notice The job's prover commits the root of its honest trace; returns the seed block.
    function commitTraced(uint256 jobId, uint32 outTok) internal returns (uint256 seedBlock) {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        TraceTree.Shape memory s = shapeOf(job.modelId, uint256(job.inputTokens) + outTok);
        bytes32 root = TraceTree.root(TraceTree.leaves(traceSalt(jobId), s));
        vm.prank(job.prover);
        escrow.commitResult(jobId, root, keccak256("output"), outTok);
        return block.number;
    }

    /// @notice Move past the seed block and give it hash `h`.
    function revealSeed(uint256 seedBlock, bytes32 h) internal {
        if (block.number <= seedBlock) vm.roll(seedBlock + 1);
        vm.setBlockhash(seedBlock, h);
    }

    /// @notice Open, commit and fix a draw that assigns an auditor (whoever wins it).
    function openAuditedJob() internal returns (uint256 jobId) {
        jobId = openStandard();
        uint256 seedBlock = commitTraced(jobId, OUT_TOK);
        revealSeed(seedBlock, hashAuditing(jobId, audits.auditRateOf(MODEL), "audited"));
        audits.fixDraw(jobId);
    }

    /// @notice The probe leaf's bytes and proof, as an honest auditor that fetched the trace has.
    function probeOf(uint256 jobId) internal view returns (bytes memory chunk, bytes32[] memory proof) {
        AuditManager.Assignment memory s = audits.assignment(jobId);
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        TraceTree.Shape memory shape = shapeOf(job.modelId, uint256(job.inputTokens) + job.outputTokens);
        chunk = TraceTree.chunkBytes(traceSalt(jobId), s.probeBoundary, s.probeRow, s.probeChunk);
        proof = TraceTree.proof(
            TraceTree.leaves(traceSalt(jobId), shape), TraceTree.hiddenIndex(shape, s.probeBoundary, s.probeRow, s.probeChunk)
        );
    }

    function report(address who, uint256 jobId) internal {
        (bytes memory chunk, bytes32[] memory proof) = probeOf(jobId);
        vm.prank(who);
        audits.reportAudit(jobId, chunk, proof);
    }

    function fundPool(uint256 amount) internal {
        fund(funder, amount);
        vm.prank(funder);
        escrow.fundAuditPool(amount);
    }

    /// @notice What an Agreed report earns before the pool cap: cost · auditFee / rate (§9.2).
    function uncappedPay(uint256 jobId) internal view returns (uint256) {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        uint256 cost = uint256(job.inputTokens) * job.inputPrice + uint256(job.outputTokens) * job.outputPrice;
        return cost * job.auditFeeBps / audits.getAudit(jobId).rateBps;
    }

    function stateOf(uint256 jobId) internal view returns (AuditManager.AuditState) {
        return audits.getAudit(jobId).state;
    }

    function assertState(uint256 jobId, AuditManager.AuditState expected, string memory what) internal view {
        assertEq(uint256(stateOf(jobId)), uint256(expected), what);
    }

    /// @notice Register `who` as a verifier with `stake` (more than the bond) without joining.
    function registerVerifier(address who, uint128 stake) internal {
        fund(who, stake);
        vm.prank(who);
        nodes.register(INodeRegistry.Role.Verifier, stake, "http://127.0.0.1:8701");
    }
}
