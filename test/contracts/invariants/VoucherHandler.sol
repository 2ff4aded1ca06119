// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {VoucherEscrow} from "../../../contracts/vouchers/VoucherEscrow.sol";
import {BatchCourt} from "../../../contracts/vouchers/BatchCourt.sol";
import {VoucherPublication} from "../../../contracts/vouchers/VoucherPublication.sol";
import {NodeRegistry} from "../../../contracts/staking/NodeRegistry.sol";
import {TokenRoot} from "../../../contracts/libraries/TokenRoot.sol";
import {IVoucherEscrow} from "../../../contracts/interfaces/IVoucherEscrow.sol";
import {PositionalTree} from "../utils/PositionalTree.sol";
import {vm} from "../utils/Vm.sol";

interface IMintableToken {
    function mint(address to, uint256 amount) external;
}

/// @notice Random clients deposit and withdraw, the prover commits batches (some with reused
/// nonces, over-long outputs or wrong running totals, as a cheater would), and random parties
/// claim, adopt, challenge, answer and void; clients publish vouchers, which the prover declines
/// or misses (PROTOCOL §5.8 "Publication"). Ghosts record what must never happen.
contract VoucherHandler {
    uint32 internal constant IN_TOK = 3;
    uint32 internal constant MAX_OUT = 8;
    bytes32 internal constant JOB_DOMAIN = keccak256("stepproof.batch-job.v1");

    VoucherEscrow public immutable vouchers;
    BatchCourt public immutable court;
    VoucherPublication public immutable publication;
    IERC20 public immutable token;
    address public immutable prover;
    bytes32 public immutable model;
    uint128 public immutable inPrice;
    uint128 public immutable outPrice;

    address[] public clients;
    uint256[] internal _keys;
    /// Live batches as abi.encode(header, debits, leaves).
    bytes[] internal _live;
    uint64 internal _slot;
    mapping(address client => mapping(uint64 nonce => bool)) internal _charged;

    /// Ghosts: each must stay zero.
    uint256 public doubleCharges; // a batch committed charging a (client, nonce) already charged
    uint256 public answeredOverMax; // a challenge answered for a leaf billing more than its voucher allows
    uint256 public stuckWithdrawals; // a client could not withdraw its unused deposit after notice
    uint256 public commits;
    uint256 public penaltyShortfalls; // a missed publication paid its client other than its penalty
    /// Penalties of open publications: the reserve must hold at least this much.
    uint256 public publicationHeld;
    bytes32[] internal _open;

    constructor(VoucherEscrow v, BatchCourt c, VoucherPublication pub, address prover_, bytes32 model_, uint128 inPrice_, uint128 outPrice_, uint256[] memory keys) {
        vouchers = v;
        court = c;
        publication = pub;
        token = v.token();
        prover = prover_;
        model = model_;
        inPrice = inPrice_;
        outPrice = outPrice_;
        _keys = keys;
        for (uint256 i; i < keys.length; ++i) {
            address a = vm.addr(keys[i]);
            clients.push(a);
        }
    }

    function clientCount() external view returns (uint256) {
        return clients.length;
    }

    function deposit(uint256 seed, uint128 amount) external {
        address c = clients[seed % clients.length];
        amount = uint128(1 + amount % 1e17);
        IMintableToken(address(token)).mint(c, amount);
        vm.prank(c);
        token.approve(address(vouchers), amount);
        vm.prank(c);
        vouchers.deposit(prover, amount);
    }

    function withdrawAll(uint256 seed) external {
        address c = clients[seed % clients.length];
        vm.prank(c);
        vouchers.requestWithdrawal(prover);
        vm.warp(vouchers.account(c, prover).withdrawableAt);
        uint128 bal = vouchers.account(c, prover).balance;
        vm.prank(c);
        try vouchers.withdrawDeposit(prover, bal) {} catch { ++stuckWithdrawals; }
    }

    function warp(uint32 secs) external {
        vm.warp(block.timestamp + secs % 2 hours);
        vm.roll(block.number + 1);
    }

    /// @dev One client's jobs; `cheat` 0 honest, 1 reuse a nonce, 2 bill over the max, 3 bad total.
    function commit(uint256 seed, uint8 n, uint8 cheat) external {
        uint256 ci = seed % clients.length;
        address c = clients[ci];
        n = uint8(1 + n % 4);
        cheat = cheat % 8 < 5 ? 0 : cheat % 3 + 1;
        uint64 first = vouchers.account(c, prover).nextNonce;
        if (cheat == 1 && first > 0) first -= 1;
        IVoucherEscrow.JobLeaf[] memory leaves = new IVoucherEscrow.JobLeaf[](n);
        bytes32[] memory hashes = new bytes32[](n);
        uint128 cum;
        for (uint64 j; j < n; ++j) {
            uint32 outTok = uint32(1 + (seed >> (8 * j)) % MAX_OUT);
            if (cheat == 2 && j == 0) outTok = MAX_OUT + 1;
            IVoucherEscrow.Voucher memory v = _voucher(c, first + j);
            leaves[j] = _leaf(v, outTok);
            cum += uint128(uint256(IN_TOK) * inPrice + uint256(outTok) * outPrice);
            leaves[j].cumulative = cum;
            hashes[j] = keccak256(bytes.concat(keccak256(abi.encode(JOB_DOMAIN, leaves[j]))));
        }
        IVoucherEscrow.Debit[] memory d = new IVoucherEscrow.Debit[](1);
        d[0] = IVoucherEscrow.Debit({client: c, firstNonce: first, lastNonce: first + n - 1, count: n, amount: cheat == 3 ? cum + 1 : cum});
        bool reused;
        for (uint64 j; j < n; ++j) reused = reused || _charged[c][first + j];
        vm.prank(prover);
        try vouchers.commitBatch(_slot, PositionalTree.root(hashes), n, d) {
            if (reused) ++doubleCharges;
            for (uint64 j; j < n; ++j) _charged[c][first + j] = true;
            IVoucherEscrow.BatchHeader memory h = _header(d, hashes, n);
            _live.push(abi.encode(h, d, leaves));
            ++_slot;
            ++commits;
        } catch {}
    }

    function claim(uint256 seed) external {
        if (_live.length == 0) return;
        uint256 i = seed % _live.length;
        (IVoucherEscrow.BatchHeader memory h,,) = _decode(i);
        try vouchers.claimBatch(h) { _drop(i); } catch {}
    }

    function adopt(uint256 seed) external {
        if (_live.length == 0) return;
        uint256 i = seed % _live.length;
        (IVoucherEscrow.BatchHeader memory h, IVoucherEscrow.Debit[] memory d, IVoucherEscrow.JobLeaf[] memory l) = _decode(i);
        uint32 idx = uint32((seed >> 8) % l.length);
        IVoucherEscrow.Voucher memory v = _voucher(l[idx].client, l[idx].nonce);
        bytes memory sig = _sign(l[idx].client, vouchers.voucherDigest(v));
        try court.adoptJob(h, d, BatchCourt.LeafRef(0, idx, l[idx], PositionalTree.proof(_hashes(l), idx)), BatchCourt.SignedVoucher(v, sig)) {
            // An adopted leaf never exceeds its voucher (checkVoucher ran).
            if (l[idx].outputTokens > MAX_OUT) ++answeredOverMax;
        } catch {}
    }

    function challengeAndResolve(uint256 seed) external {
        if (_live.length == 0) return;
        uint256 i = seed % _live.length;
        (IVoucherEscrow.BatchHeader memory h, IVoucherEscrow.Debit[] memory d, IVoucherEscrow.JobLeaf[] memory l) = _decode(i);
        uint32 idx = uint32((seed >> 8) % l.length);
        address who = address(uint160(0xCAFE0000 + seed % 7));
        uint128 fee = vouchers.challengeFee();
        IMintableToken(address(token)).mint(who, fee);
        vm.prank(who);
        token.approve(address(court), fee);
        vm.prank(who);
        try court.challengeLeaf(h, idx) {} catch { return; }
        IVoucherEscrow.Voucher memory v = _voucher(l[idx].client, l[idx].nonce);
        bytes memory sig = _sign(l[idx].client, vouchers.voucherDigest(v));
        try court.answerLeaf(h, d, 0, l[idx], idx, PositionalTree.proof(_hashes(l), idx), v, sig) {
            if (l[idx].outputTokens > MAX_OUT) ++answeredOverMax;
        } catch {
            vm.warp(block.timestamp + vouchers.params().answerWindow + 1);
            court.voidUnanswered(h, d, idx);
            _drop(i);
        }
    }

    function proveMiscount(uint256 seed) external {
        if (_live.length == 0) return;
        uint256 i = seed % _live.length;
        (IVoucherEscrow.BatchHeader memory h, IVoucherEscrow.Debit[] memory d, IVoucherEscrow.JobLeaf[] memory l) = _decode(i);
        uint32 last = uint32(l.length - 1);
        try court.proveLeafMiscount(h, d, 0, l[last], last, PositionalTree.proof(_hashes(l), last)) { _drop(i); } catch {}
    }

    function sweepAndWithdraw() external {
        vouchers.sweepFees();
        if (vouchers.book(prover).earned != 0) {
            vm.prank(prover);
            vouchers.withdrawEarnings();
        }
    }

    /// A client publishes one of its vouchers (a nonce far above the batches' own).
    function publish(uint256 seed) external {
        address c = clients[seed % clients.length];
        IVoucherEscrow.Voucher memory v = _voucher(c, vouchers.account(c, prover).nextNonce + 1000 + uint64((seed >> 8) % 1000));
        bytes memory prompt = abi.encodePacked(uint32(256), uint32(72), uint32(105));
        v.promptRoot = TokenRoot.root(prompt, 0);
        bytes32 h = vouchers.voucherDigest(v);
        bytes memory sig = _sign(c, h);
        vm.prank(c);
        try publication.publish(v, sig, prompt) {
            publicationHeld += publication.publicationOf(h).penalty;
            _open.push(h);
        } catch {}
    }

    /// The prover declines an open publication, or lets it pass and someone claims the miss.
    function endPublication(uint256 seed, bool decline) external {
        if (_open.length == 0) return;
        uint256 i = seed % _open.length;
        bytes32 h = _open[i];
        VoucherPublication.Publication memory pub = publication.publicationOf(h);
        if (decline) {
            vm.prank(prover);
            try publication.decline(h) {} catch { return; }
        } else {
            uint256 at = uint256(pub.deadline) + vouchers.params().answerWindow + 1;
            if (block.timestamp < at) vm.warp(at);
            NodeRegistry nodes = NodeRegistry(address(publication.nodes()));
            uint256 before = nodes.credits(pub.client);
            try publication.claimMissed(h) {} catch { return; }
            if (nodes.credits(pub.client) - before != pub.penalty) ++penaltyShortfalls;
        }
        publicationHeld -= pub.penalty;
        _open[i] = _open[_open.length - 1];
        _open.pop();
    }

    // ------------------------------------------------------------------ helpers

    function _voucher(address c, uint64 nonce) internal view returns (IVoucherEscrow.Voucher memory) {
        return IVoucherEscrow.Voucher({
            client: c, prover: prover, modelId: model, promptRoot: keccak256("prompt"), samplingParams: 0,
            inputTokens: IN_TOK, maxOutputTokens: MAX_OUT, inputPrice: inPrice, outputPrice: outPrice,
            nonce: nonce, expiry: type(uint64).max
        });
    }

    function _leaf(IVoucherEscrow.Voucher memory v, uint32 outTok) internal view returns (IVoucherEscrow.JobLeaf memory) {
        return IVoucherEscrow.JobLeaf({
            voucherHash: vouchers.voucherDigest(v), client: v.client, nonce: v.nonce, modelId: v.modelId,
            promptRoot: v.promptRoot, samplingParams: 0, traceRoot: keccak256(abi.encode(v.nonce)),
            outputRoot: keccak256(abi.encode(v.client)), inputTokens: IN_TOK, outputTokens: outTok,
            inputPrice: v.inputPrice, outputPrice: v.outputPrice, cumulative: 0
        });
    }

    function _sign(address c, bytes32 digest) internal view returns (bytes memory) {
        uint256 key;
        for (uint256 i; i < clients.length; ++i) if (clients[i] == c) key = _keys[i];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _header(IVoucherEscrow.Debit[] memory d, bytes32[] memory hashes, uint32 n)
        internal
        view
        returns (IVoucherEscrow.BatchHeader memory h)
    {
        VoucherEscrow.Params memory p = vouchers.params();
        h.prover = prover;
        h.slot = _slot;
        h.jobsRoot = PositionalTree.root(hashes);
        h.leafCount = n;
        h.debitsHash = keccak256(abi.encode(d));
        h.total = d[0].amount;
        h.collateral = uint128(uint256(d[0].amount) * p.collateralBps / 10_000);
        h.committedAt = uint64(block.timestamp);
        h.challengeDeadline = uint64(block.timestamp) + p.challengeWindow;
        h.feeBps = p.feeBps;
        h.auditFeeBps = p.auditFeeBps;
    }

    function _hashes(IVoucherEscrow.JobLeaf[] memory l) internal pure returns (bytes32[] memory hs) {
        hs = new bytes32[](l.length);
        for (uint256 i; i < l.length; ++i) hs[i] = keccak256(bytes.concat(keccak256(abi.encode(JOB_DOMAIN, l[i]))));
    }

    function _decode(uint256 i)
        internal
        view
        returns (IVoucherEscrow.BatchHeader memory, IVoucherEscrow.Debit[] memory, IVoucherEscrow.JobLeaf[] memory)
    {
        return abi.decode(_live[i], (IVoucherEscrow.BatchHeader, IVoucherEscrow.Debit[], IVoucherEscrow.JobLeaf[]));
    }

    function _drop(uint256 i) internal {
        _live[i] = _live[_live.length - 1];
        _live.pop();
    }
}
