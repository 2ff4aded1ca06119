// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VoucherFixture} from "./VoucherFixture.sol";
import {vm} from "../utils/Vm.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {VoucherParams} from "../../../contracts/vouchers/VoucherParams.sol";
import {BatchCourt} from "../../../contracts/vouchers/BatchCourt.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {IJobEscrow} from "../../../contracts/interfaces/IJobEscrow.sol";

/// @dev Cheatcodes not declared in ../utils/Vm.sol.
interface ExtraCheats {
    function etch(address who, bytes calldata code) external;
}

/// @notice A smart-contract client (ERC-1271) whose owner can change its mind about a signature.
contract ToggleWallet {
    bool public valid = true;
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function setValid(bool v) external {
        require(msg.sender == owner, "owner");
        valid = v;
    }

    function exec(address to, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "owner");
        (bool ok, bytes memory ret) = to.call(data);
        require(ok, "call failed");
        return ret;
    }

    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        return valid ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}

/// @notice The attack review of the voucher path (PROTOCOL §5.8): each attack that succeeded
/// against the first version, played again against the fixed contracts. They stay here.
contract VoucherAttackRegressionsTest is VoucherFixture {
    ExtraCheats internal constant cheats = ExtraCheats(address(uint160(uint256(keccak256("hevm cheat code")))));
    address internal constant GRIEFER = address(0x6121EF);

    function setUp() public {
        setUpVouchers();
        depositFor(clientA, 1e18);
        depositFor(clientB, 1e18);
    }

    function fakeLeaf(address who, uint64 nonce, uint32 inTok, uint32 outTok, uint128 inPrice, uint128 outPrice, uint128 cumulative)
        internal
        pure
        returns (IVoucherEscrow.JobLeaf memory l)
    {
        l = IVoucherEscrow.JobLeaf({
            voucherHash: keccak256(abi.encode("a voucher nobody signed", who, nonce)),
            client: who,
            nonce: nonce,
            modelId: MODEL,
            promptRoot: keccak256("some prompt the prover chose"),
            samplingParams: 0,
            traceRoot: keccak256(abi.encode("trace", nonce)),
            outputRoot: keccak256(abi.encode("output", nonce)),
            inputTokens: inTok,
            outputTokens: outTok,
            inputPrice: inPrice,
            outputPrice: outPrice,
            cumulative: cumulative
        });
    }

    function copyLeaf(IVoucherEscrow.JobLeaf memory l) internal pure returns (IVoucherEscrow.JobLeaf memory) {
        return abi.decode(abi.encode(l), (IVoucherEscrow.JobLeaf));
    }

    /// A batch from explicit leaves and debits; the header uses the escrow's CURRENT params.
    function commitRaw(IVoucherEscrow.JobLeaf[] memory leaves, IVoucherEscrow.Debit[] memory debits, uint64 slot)
        internal
        returns (Built memory b)
    {
        b.leaves = leaves;
        b.debits = debits;
        rehash(b);
        vm.prank(prover);
        vouchers.commitBatch(slot, root(b.hashes), uint32(leaves.length), debits);
        VoucherParams.Params memory p = vouchers.params();
        uint256 total;
        for (uint256 k; k < debits.length; ++k) total += debits[k].amount;
        IVoucherEscrow.BatchHeader memory h;
        h.prover = prover;
        h.slot = slot;
        h.jobsRoot = root(b.hashes);
        h.leafCount = uint32(leaves.length);
        h.debitsHash = keccak256(abi.encode(debits));
        h.total = uint128(total);
        h.collateral = uint128(total * p.collateralBps / 10_000);
        h.committedAt = uint64(block.timestamp);
        h.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        h.feeBps = p.feeBps;
        h.auditFeeBps = p.auditFeeBps;
        b.header = h;
        assertEq(vouchers.batchHash(vouchers.batchIdOf(prover, slot)), keccak256(abi.encode(h)), "header reconstructed");
    }

    function debit1(address who, uint64 first, uint64 last, uint32 count, uint128 amount)
        internal
        pure
        returns (IVoucherEscrow.Debit[] memory d)
    {
        d = new IVoucherEscrow.Debit[](1);
        d[0] = IVoucherEscrow.Debit({client: who, firstNonce: first, lastNonce: last, count: count, amount: amount});
    }

    function setCollateralBps(uint32 bps) internal {
        VoucherParams.Params memory p = vouchers.params();
        p.collateralBps = bps;
        vouchers.setParams(p, CHALLENGE_FEE);
    }

    function ref(Built memory b, uint256 entry, uint32 index) internal pure returns (BatchCourt.LeafRef memory) {
        return BatchCourt.LeafRef(entry, index, b.leaves[index], proof(b.hashes, index));
    }

    function challengeAs(address who, IVoucherEscrow.BatchHeader memory h, uint32 index) internal {
        fundVouchers(who, CHALLENGE_FEE);
        vm.prank(who);
        court.challengeLeaf(h, index);
    }

    /// Finding 1: a leaf nobody signed, charging a client's whole deposit, moved into the
    /// JobEscrow by the prover itself. Now adoption needs the client's voucher.
    function test_unsignedLeaf_cannotBeAdopted_andTheVoidRefundsAll() public {
        IVoucherEscrow.JobLeaf[] memory leaves = new IVoucherEscrow.JobLeaf[](1);
        uint128 all = vouchers.account(clientA, prover).balance;
        uint32 outTok = uint32(all / OUT_PRICE);
        leaves[0] = fakeLeaf(clientA, 0, 0, outTok, 0, OUT_PRICE, uint128(uint256(outTok) * OUT_PRICE));
        Built memory b = commitRaw(leaves, debit1(clientA, 0, 0, 1, leaves[0].cumulative), 0);
        // The client's real voucher for nonce 0 (any other job) does not back the leaf.
        IVoucherEscrow.Voucher memory v = voucherFor(clientA, 0);
        bytes memory sig = sign(CLIENT_A_KEY, vouchers.voucherDigest(v));
        BatchCourt.LeafRef memory r = ref(b, 0, 0);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.VoucherMismatch.selector, uint32(0), "voucherHash"));
        court.adoptJob(b.header, b.debits, r, BatchCourt.SignedVoucher(v, sig));
        challengeAs(clientA, b.header, 0);
        vm.warp(block.timestamp + 601);
        uint256 stake = nodes.getNode(prover).stake;
        court.voidUnanswered(b.header, b.debits, 0);
        assertEq(vouchers.account(clientA, prover).balance, all, "the whole deposit restored");
        assertTrue(nodes.getNode(prover).stake < stake, "the prover slashed");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Finding 1b: one signed voucher at two indices, both moved into the JobEscrow.
    function test_oneVoucher_isAdoptedOnce_andTheRestRefunded() public {
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 4);
        b.leaves[1] = copyLeaf(b.leaves[0]);
        b.leaves[1].cumulative = 2 * b.leaves[0].cumulative;
        b.vouchers[1] = b.vouchers[0];
        b.signatures[1] = b.signatures[0];
        b.debits[0].lastNonce = 1;
        b.debits[0].amount = b.leaves[1].cumulative;
        rehash(b);
        commitBuilt(b, 0);
        court.adoptJob(b.header, b.debits, ref(b, 0, 0), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        bytes32 instance = vouchers.instanceOf(prover, b.header.debitsHash);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.VoucherAlreadyAdopted.selector, instance, clientA, uint64(0)));
        court.adoptJob(b.header, b.debits, ref(b, 0, 1), BatchCourt.SignedVoucher(b.vouchers[1], b.signatures[1]));
        uint128 before = vouchers.account(clientA, prover).balance;
        court.proveNeighbourMiscount(b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0), b.leaves[1], proof(b.hashes, 1));
        assertEq(vouchers.account(clientA, prover).balance, before + b.leaves[0].cumulative, "the second charge refunded");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Finding 2: governance lowers collateralBps and the prover releases what live batches hold.
    function test_release_keepsLiveBatchesCollateral_afterAParameterChange() public {
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 4);
        b.debits[0].amount += 1; // provably wrong
        commitBuilt(b, 0);
        setCollateralBps(10_000);
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        vm.prank(prover);
        vm.expectRevert(abi.encodeWithSelector(VoucherEscrow.InsufficientReserve.selector, prover, uint256(r.reserved) + 1, uint256(r.reserved)));
        vouchers.release(r.reserved - r.held + 1);
        vm.prank(prover);
        vouchers.release(r.reserved - r.held);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[1], 1, proof(b.hashes, 1));
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Finding 2b: a rounding after an adoption at an odd collateralBps leaves the batch 1 wei short.
    function test_release_afterAdoptionRounding_cannotStrandABatch() public {
        setCollateralBps(5_000);
        Built memory b = build(one(clientA), counts1(3), nonces1(0), 3);
        b.debits[0].amount += 1;
        commitBuilt(b, 0);
        b.header.collateral = uint128(uint256(b.header.total) * 5_000 / 10_000);
        court.adoptJob(b.header, b.debits, ref(b, 0, 0), BatchCourt.SignedVoucher(b.vouchers[0], b.signatures[0]));
        IVoucherEscrow.Reserve memory r = vouchers.reserveOf(prover);
        vm.prank(prover);
        vouchers.release(r.reserved - r.held);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[2], 2, proof(b.hashes, 2));
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Finding 3: an EOA client whose address later gains code (EIP-7702) cannot revoke its
    /// vouchers: signatures are plain ECDSA, so the prover still answers.
    function test_clientGainingCode_cannotVoidAnHonestBatch() public {
        Built memory b = build(one(clientA), counts1(1), nonces1(0), 4);
        commitBuilt(b, 0);
        cheats.etch(clientA, hex"60006000fd");
        challengeAs(GRIEFER, b.header, 0);
        court.answerLeaf(b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0), b.vouchers[0], b.signatures[0]);
        assertEq(court.credits(prover), CHALLENGE_FEE, "answered");
    }

    /// Finding 3b: an ERC-1271 wallet's "signature" never answers, so a prover can see at
    /// acceptance that it must not serve one (the node refuses contract clients).
    function test_contractWalletVoucher_neverAnswers() public {
        ToggleWallet wallet = new ToggleWallet(address(this));
        IVoucherEscrow.Voucher memory v = voucherFor(address(wallet), 0);
        IVoucherEscrow.JobLeaf[] memory leaves = new IVoucherEscrow.JobLeaf[](1);
        leaves[0] = fakeLeaf(address(wallet), 0, v.inputTokens, 2, IN_PRICE, OUT_PRICE, uint128(uint256(v.inputTokens) * IN_PRICE + 2 * uint256(OUT_PRICE)));
        leaves[0].voucherHash = vouchers.voucherDigest(v);
        leaves[0].promptRoot = v.promptRoot;
        fundVouchers(address(wallet), 1e18);
        vm.prank(address(wallet));
        vouchers.deposit(prover, 1e18);
        Built memory b = commitRaw(leaves, debit1(address(wallet), 0, 0, 1, leaves[0].cumulative), 0);
        challengeAs(GRIEFER, b.header, 0);
        vm.expectRevert(abi.encodeWithSelector(BatchCourt.BadVoucherSignature.selector, uint32(0), address(wallet)));
        court.answerLeaf(b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0), v, hex"00");
    }

    /// Finding 4: challenges, answers and adoptions no longer change the stored header, so a
    /// pending answer, proof or adoption built on the committed header never goes stale.
    function test_courtActions_neverStaleAnotherPartysHeader() public {
        Built memory b = build(one(clientA), counts1(3), nonces1(0), 4);
        b.debits[0].amount += 1; // provably wrong
        commitBuilt(b, 0);
        challengeAs(GRIEFER, b.header, 0);
        challengeAs(prover, b.header, 1); // the prover's self-challenge
        court.adoptJob(b.header, b.debits, ref(b, 0, 1), BatchCourt.SignedVoucher(b.vouchers[1], b.signatures[1]));
        court.answerLeaf(b.header, b.debits, 0, b.leaves[0], 0, proof(b.hashes, 0), b.vouchers[0], b.signatures[0]);
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[2], 2, proof(b.hashes, 2));
        assertEq(vouchers.batchHash(vouchers.batchIdOf(prover, 0)), bytes32(uint256(1)), "voided on the committed header");
        assertVoucherSolvent(two(clientA, clientB));
    }

    /// Finding 6: stake parked in the reserve pays the fraud share like free stake.
    function test_idleReserve_paysTheFraudShare() public {
        IVoucherEscrow.Reserve memory r0 = vouchers.reserveOf(prover);
        uint256 free = nodes.getNode(prover).stake - nodes.getNode(prover).locked;
        vm.prank(prover);
        vouchers.reserve(uint128(free));
        Built memory b = build(one(clientA), counts1(2), nonces1(0), 4);
        b.debits[0].amount += 1;
        commitBuilt(b, 0);
        uint256 stake = nodes.getNode(prover).stake;
        court.proveLeafMiscount(b.header, b.debits, 0, b.leaves[1], 1, proof(b.hashes, 1));
        uint256 idle = uint256(r0.reserved) + free - b.header.collateral;
        assertEq(stake - nodes.getNode(prover).stake, b.header.collateral + idle / 2, "collateral plus half the idle reserve");
        assertVoucherSolvent(two(clientA, clientB));
    }
}
