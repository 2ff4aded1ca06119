// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Voucher escrow interface: deposits, signed vouchers, batched commitments
/// @notice Clients deposit once per prover and authorise each job off-chain with an EIP-712
/// voucher; the prover commits many jobs as one Merkle root with per-client debits and claims
/// the batch after its challenge window. Every job stays disputable: a Merkle proof of its leaf
/// moves it into the JobEscrow, where the step-proof game judges it. docs/PROTOCOL.md §5.8.
interface IVoucherEscrow {
    /// @notice What a client signs (EIP-712 type `Voucher`): one job's terms.
    struct Voucher {
        address client;
        address prover;
        bytes32 modelId;
        /// Token root of the prompt at positions 0..inputTokens-1 (PROTOCOL §3.4).
        bytes32 promptRoot;
        /// Packed sampling rule (PROTOCOL §4.4).
        uint256 samplingParams;
        /// The prompt's exact length: the job is charged for exactly these input tokens.
        uint32 inputTokens;
        uint32 maxOutputTokens;
        uint128 inputPrice;
        uint128 outputPrice;
        /// Per (client, prover) account; charged nonces strictly increase (PROTOCOL §5.8).
        uint64 nonce;
        /// Last second at which a batch may include the voucher.
        uint64 expiry;
    }

    /// @notice One job of a batch: the voucher's terms as served, and the result.
    struct JobLeaf {
        /// EIP-712 digest of the client's voucher.
        bytes32 voucherHash;
        address client;
        uint64 nonce;
        bytes32 modelId;
        bytes32 promptRoot;
        uint256 samplingParams;
        bytes32 traceRoot;
        /// Token root of the generated tokens at positions inputTokens.. (PROTOCOL §3.4).
        bytes32 outputRoot;
        uint32 inputTokens;
        uint32 outputTokens;
        uint128 inputPrice;
        uint128 outputPrice;
        /// Charges of this client's jobs in the batch up to and including this one.
        uint128 cumulative;
    }

    /// @notice One client's share of a batch: its `count` leaves are consecutive, in nonce order.
    struct Debit {
        address client;
        uint64 firstNonce;
        uint64 lastNonce;
        uint32 count;
        uint128 amount;
    }

    /// @notice Everything fixed about a batch at commit; only its hash is stored, and it never
    /// changes: disputes change the batch's BatchState instead, so no court action can make
    /// another party's pending transaction stale (PROTOCOL §5.8).
    struct BatchHeader {
        address prover;
        /// The prover's batch slot: batchId = keccak256(abi.encode(prover, slot)); a slot is reused
        /// once its batch is settled, so steady-state commits overwrite a non-zero word.
        uint64 slot;
        bytes32 jobsRoot;
        uint32 leafCount;
        /// keccak256(abi.encode(debits)).
        bytes32 debitsHash;
        /// What the batch charges: the sum of its debits.
        uint128 total;
        /// The part of the prover's reserve this batch holds (slashed on fraud).
        uint128 collateral;
        uint64 committedAt;
        uint64 challengeDeadline;
        uint16 feeBps;
        uint16 auditFeeBps;
    }

    /// @notice What disputes changed on a live batch (one word; zero for an undisputed batch).
    struct BatchState {
        /// Leaf challenges not yet answered: the batch cannot be claimed meanwhile.
        uint32 openChallenges;
        /// After an answer, jobs stay movable to the JobEscrow, and the batch unclaimable, until then.
        uint64 holdUntil;
        /// Charges of the leaves moved into the JobEscrow.
        uint128 adoptedTotal;
    }

    /// @notice A prover's standing collateral: stake locked for batches, and what live batches hold of it.
    struct Reserve {
        uint128 reserved;
        uint128 held;
    }

    /// @notice A client's deposit for one prover.
    struct Account {
        uint128 balance;
        /// The lowest nonce a new batch may charge.
        uint64 nextNonce;
        /// When a requested withdrawal may execute (0: none requested).
        uint64 withdrawableAt;
    }

    /// @notice What a prover's unclaimed batches charge, and its claimed, unwithdrawn pay: one
    /// slot, so a claim writes one word for the prover.
    struct ProverBook {
        uint128 exposure;
        uint128 earned;
    }

    /// @notice Fees of claimed batches not yet swept (one slot, written once per claim).
    struct FeeBook {
        uint128 fees;
        uint128 auditFees;
    }

    struct LeafChallenge {
        address challenger;
        uint64 deadline;
        uint128 fee;
    }

    event Deposited(address indexed client, address indexed prover, uint256 amount, uint256 balance);
    event WithdrawalRequested(address indexed client, address indexed prover, uint64 withdrawableAt);
    event DepositWithdrawn(address indexed client, address indexed prover, uint256 amount, uint256 balance);
    event ReserveChanged(address indexed prover, uint256 reserved);
    event BatchCommitted(bytes32 indexed batchId, address indexed prover, BatchHeader header, Debit[] debits);
    event BatchClaimed(bytes32 indexed batchId, address indexed prover, uint256 proverPaid, uint256 fee, uint256 auditFee);
    event FeesSwept(address indexed treasury, uint256 fee, uint256 auditFee);

    function commitBatch(uint64 slot, bytes32 jobsRoot, uint32 leafCount, Debit[] calldata debits)
        external
        returns (bytes32 batchId);

    function claimBatch(BatchHeader calldata header) external;
}
