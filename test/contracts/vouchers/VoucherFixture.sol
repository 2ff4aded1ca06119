// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Suite} from "../utils/Suite.sol";
import {vm} from "../utils/Vm.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {VoucherParams} from "../../../contracts/vouchers/VoucherParams.sol";
import {BatchCourt} from "../../../contracts/vouchers/BatchCourt.sol";
import {VoucherPublication} from "../../../contracts/vouchers/VoucherPublication.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {IJobAdoption} from "../../../contracts/interfaces/IJobAdoption.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";
import {PositionalTree} from "../utils/PositionalTree.sol";

/// @notice The settlement suite plus the voucher escrow and batch court, wired as Ignition does,
/// and helpers that build batches the way an honest prover does (PROTOCOL §5.8): one voucher
/// signed per job, leaves in debit order with running totals, a positional tree computed here
/// (never read back from the contracts under test).
abstract contract VoucherFixture is Suite {
    VoucherEscrow internal vouchers;
    BatchCourt internal court;
    VoucherPublication internal publication;

    uint256 internal constant CLIENT_A_KEY = 0xA11CE;
    uint256 internal constant CLIENT_B_KEY = 0xB0B0;
    address internal clientA;
    address internal clientB;
    uint32 internal constant V_IN = 3;
    uint32 internal constant V_MAX_OUT = 8;
    uint128 internal constant CHALLENGE_FEE = 1e16;
    bytes32 internal constant JOB_DOMAIN = keccak256("stepproof.batch-job.v1");

    /// One batch as the prover built it.
    struct Built {
        IVoucherEscrow.BatchHeader header;
        IVoucherEscrow.Debit[] debits;
        IVoucherEscrow.JobLeaf[] leaves;
        IVoucherEscrow.Voucher[] vouchers;
        bytes[] signatures;
        bytes32[] hashes;
    }

    function voucherParams() internal pure returns (VoucherParams.Params memory) {
        return VoucherParams.Params({
            feeBps: 250,
            auditFeeBps: 500,
            collateralBps: 20_000,
            challengeWindow: 3600,
            answerWindow: 600,
            withdrawalNotice: 1 days,
            challengerRewardBps: 5_000,
            maxDebits: 256
        });
    }

    function publicationParams() internal pure returns (VoucherPublication.Params memory) {
        return VoucherPublication.Params({publishTimeout: 600, declineWindow: 120, missedPenaltyBps: 5_000, maxOpenPerClient: 4});
    }

    function setUpVouchers() internal {
        deploySuite();
        registerProver(prover, 1_000e18);
        vouchers = new VoucherEscrow(
            address(this), token, nodes, IJobAdoption(address(escrow)), voucherParams(), CHALLENGE_FEE
        );
        court = new BatchCourt(vouchers, nodes, models);
        nodes.grantRole(nodes.ESCROW_ROLE(), address(vouchers));
        nodes.grantRole(nodes.SLASHER_ROLE(), address(court));
        escrow.grantRole(escrow.VOUCHERS_ROLE(), address(court));
        vouchers.setCourt(address(court));
        publication = new VoucherPublication(address(this), vouchers, nodes, models, publicationParams());
        nodes.grantRole(nodes.SLASHER_ROLE(), address(publication));
        vouchers.setPublication(address(publication));
        clientA = vm.addr(CLIENT_A_KEY);
        clientB = vm.addr(CLIENT_B_KEY);
        vm.prank(prover);
        vouchers.reserve(500e18);
        vm.roll(block.number + 1);
    }

    function fundVouchers(address who, uint256 amount) internal {
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(vouchers), type(uint256).max);
        vm.prank(who);
        token.approve(address(court), type(uint256).max);
    }

    function depositFor(address who, uint128 amount) internal {
        fundVouchers(who, amount);
        vm.prank(who);
        vouchers.deposit(prover, amount);
    }

    function keyOf(address who) internal view returns (uint256) {
        return who == clientA ? CLIENT_A_KEY : CLIENT_B_KEY;
    }

    function voucherFor(address who, uint64 nonce) internal view returns (IVoucherEscrow.Voucher memory) {
        return IVoucherEscrow.Voucher({
            client: who,
            prover: prover,
            modelId: MODEL,
            promptRoot: TokenRoot.root(promptBytes(), 0),
            samplingParams: 0,
            inputTokens: V_IN,
            maxOutputTokens: V_MAX_OUT,
            inputPrice: IN_PRICE,
            outputPrice: OUT_PRICE,
            nonce: nonce,
            expiry: uint64(block.timestamp + 1 hours)
        });
    }

    function sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function chargeOf(IVoucherEscrow.JobLeaf memory l) internal pure returns (uint256) {
        return uint256(l.inputTokens) * l.inputPrice + uint256(l.outputTokens) * l.outputPrice;
    }

    function leafHash(IVoucherEscrow.JobLeaf memory l) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(JOB_DOMAIN, l))));
    }

    /// @notice Build an honest batch: `counts[k]` jobs of `clients[k]` with nonces from
    /// `firstNonces[k]`, each with `outTok` outputs. Signs each voucher with the client's key.
    function build(address[] memory clients, uint32[] memory counts, uint64[] memory firstNonces, uint32 outTok)
        internal
        view
        returns (Built memory b)
    {
        uint256 total;
        for (uint256 k; k < counts.length; ++k) total += counts[k];
        b.debits = new IVoucherEscrow.Debit[](clients.length);
        b.leaves = new IVoucherEscrow.JobLeaf[](total);
        b.vouchers = new IVoucherEscrow.Voucher[](total);
        b.signatures = new bytes[](total);
        uint256 i;
        for (uint256 k; k < clients.length; ++k) {
            uint128 cumulative;
            for (uint64 j; j < counts[k]; ++j) {
                IVoucherEscrow.Voucher memory v = voucherFor(clients[k], firstNonces[k] + j);
                bytes32 digest = vouchers.voucherDigest(v);
                IVoucherEscrow.JobLeaf memory l = IVoucherEscrow.JobLeaf({
                    voucherHash: digest,
                    client: clients[k],
                    nonce: v.nonce,
                    modelId: v.modelId,
                    promptRoot: v.promptRoot,
                    samplingParams: v.samplingParams,
                    traceRoot: keccak256(abi.encode("trace", clients[k], v.nonce)),
                    outputRoot: keccak256(abi.encode("output", clients[k], v.nonce)),
                    inputTokens: v.inputTokens,
                    outputTokens: outTok,
                    inputPrice: v.inputPrice,
                    outputPrice: v.outputPrice,
                    cumulative: 0
                });
                cumulative += uint128(chargeOf(l));
                l.cumulative = cumulative;
                b.leaves[i] = l;
                b.vouchers[i] = v;
                b.signatures[i] = sign(keyOf(clients[k]), digest);
                ++i;
            }
            b.debits[k] = IVoucherEscrow.Debit({
                client: clients[k],
                firstNonce: firstNonces[k],
                lastNonce: firstNonces[k] + counts[k] - 1,
                count: counts[k],
                amount: cumulative
            });
        }
        rehash(b);
    }

    /// @notice Recompute leaf hashes (after a test edits a leaf, as a cheating prover would).
    function rehash(Built memory b) internal pure {
        b.hashes = new bytes32[](b.leaves.length);
        for (uint256 i; i < b.leaves.length; ++i) b.hashes[i] = leafHash(b.leaves[i]);
    }

    function commitBuilt(Built memory b, uint64 slot) internal {
        vm.prank(prover);
        vouchers.commitBatch(slot, root(b.hashes), uint32(b.leaves.length), b.debits);
        b.header = headerOf(b, slot);
    }

    /// @notice The header commitBatch stores (PROTOCOL §5.8), computed from the inputs.
    function headerOf(Built memory b, uint64 slot) internal view returns (IVoucherEscrow.BatchHeader memory h) {
        VoucherParams.Params memory p = voucherParams();
        uint256 total;
        for (uint256 k; k < b.debits.length; ++k) total += b.debits[k].amount;
        h.prover = prover;
        h.slot = slot;
        h.jobsRoot = root(b.hashes);
        h.leafCount = uint32(b.leaves.length);
        h.debitsHash = keccak256(abi.encode(b.debits));
        h.total = uint128(total);
        h.collateral = uint128(total * p.collateralBps / 10_000);
        h.committedAt = uint64(block.timestamp);
        h.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        h.feeBps = p.feeBps;
        h.auditFeeBps = p.auditFeeBps;
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return PositionalTree.root(leaves);
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory) {
        return PositionalTree.proof(leaves, index);
    }

    function one(address a) internal pure returns (address[] memory l) {
        l = new address[](1);
        l[0] = a;
    }

    function two(address a, address b) internal pure returns (address[] memory l) {
        l = new address[](2);
        (l[0], l[1]) = (a, b);
    }

    function counts1(uint32 a) internal pure returns (uint32[] memory l) {
        l = new uint32[](1);
        l[0] = a;
    }

    function counts2(uint32 a, uint32 b) internal pure returns (uint32[] memory l) {
        l = new uint32[](2);
        (l[0], l[1]) = (a, b);
    }

    function nonces1(uint64 a) internal pure returns (uint64[] memory l) {
        l = new uint64[](1);
        l[0] = a;
    }

    function nonces2(uint64 a, uint64 b) internal pure returns (uint64[] memory l) {
        l = new uint64[](2);
        (l[0], l[1]) = (a, b);
    }

    /// @notice Every token the voucher escrow and the court hold is owed to someone.
    function assertVoucherSolvent(address[] memory clients) internal view {
        uint256 owed = vouchers.totalCredits();
        for (uint256 i; i < clients.length; ++i) owed += vouchers.account(clients[i], prover).balance;
        IVoucherEscrow.ProverBook memory pb = vouchers.book(prover);
        IVoucherEscrow.FeeBook memory f = vouchers.feeBook();
        owed += uint256(pb.exposure) + pb.earned + f.fees + f.auditFees;
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        assertLe(r.held, r.reserved, "held above reserved");
        assertEq(token.balanceOf(address(vouchers)), owed, "voucher escrow solvency");
        assertEq(token.balanceOf(address(court)), court.challengeFeesHeld() + court.totalCredits(), "court solvency");
        assertSolvent();
    }
}
