// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Job escrow interface
/// @notice Clients escrow the maximum cost of a job; the prover commits a trace root and the
/// output's token root; after the challenge window anyone finalizes and the prover is paid per
/// token. State machine: docs/PROTOCOL.md §5.
interface IJobEscrow {
    enum JobStatus {
        None,
        Open, // escrowed, waiting for the prover's commitment
        Committed, // result committed, challenge window running (frozen while disputes are open)
        Finalized, // prover paid, client refunded the rest
        Expired, // prover missed the commit deadline: client refunded and compensated
        Slashed, // a dispute proved fraud: client refunded, prover slashed
        Declined // the prover declined the job (declineJob): client refunded, no penalty
    }

    struct OpenJobParams {
        address prover;
        bytes32 modelId;
        /// Token root of the prompt at positions 0..inputTokens-1 (TokenRoot, PROTOCOL §3.4).
        bytes32 promptRoot;
        /// Packed sampling rule (docs/PROTOCOL.md §4.4); 0 = greedy. Unverifiable rules revert.
        uint256 samplingParams;
        /// The prompt's exact length P, fixed here: the client pays for exactly these tokens.
        uint32 inputTokens;
        uint32 maxOutputTokens;
        /// Prices the client agreed to; the job reverts if the prover's offer differs.
        uint128 inputPrice;
        uint128 outputPrice;
    }

    /// @dev Field order packs the struct into 10 storage slots.
    struct Job {
        address client;
        uint40 openedAt;
        /// Terms fixed when the job opened, so governance cannot change a running job's deal.
        uint32 challengeWindow;
        /// Share of the cost paid into the audit pool at settlement (PROTOCOL §9.2).
        uint16 auditFeeBps;
        address prover;
        uint64 commitDeadline;
        /// Disputes and availability challenges not yet resolved (PROTOCOL §5.5).
        uint32 openDisputes;
        bytes32 modelId;
        /// Token root of the prompt, positions 0..inputTokens-1 (PROTOCOL §3.4).
        bytes32 promptRoot;
        uint256 samplingParams;
        bytes32 traceRoot;
        /// Token root of the generated tokens, positions inputTokens..inputTokens+outputTokens-1.
        bytes32 outputRoot;
        uint128 inputPrice;
        uint128 outputPrice;
        uint128 escrowed;
        uint128 collateral;
        /// Fixed at open (the prompt's length P).
        uint32 inputTokens;
        uint32 maxOutputTokens;
        /// Set at commit, 1..maxOutputTokens.
        uint32 outputTokens;
        uint64 challengeDeadline;
        JobStatus status;
        /// The client published the prompt on-chain (publishPrompt): only then can a missed
        /// commit be blamed on the prover (PROTOCOL §5.3).
        bool promptPublished;
        /// Last second the prover may decline after publication (0 while unpublished).
        uint64 declineDeadline;
        uint16 feeBps;
    }

    /// @notice Who is owed a fraud's reward (PROTOCOL §9.5): the challenger of the earliest-opened
    /// dispute that was still unresolved when the job was slashed, paid once every dispute on the
    /// job has closed.
    struct SlashReward {
        /// Dispute sequence numbers handed out so far (1-based, in opening order).
        uint32 disputesOpened;
        /// Sequence number and challenger of the best candidate so far.
        uint32 bestSeq;
        address bestChallenger;
        /// The reward, held as the escrow's credit in the NodeRegistry until paid.
        uint128 held;
    }

    /// @notice Open a job and escrow `inputTokens*inputPrice + maxOutputTokens*outputPrice`.
    function openJob(OpenJobParams calldata params) external returns (uint256 jobId);

    /// @notice The job's prover commits the result; starts the challenge window.
    /// @param outputRoot Token root of the generated tokens at positions inputTokens.. (PROTOCOL §3.4).
    /// @param outputTokens How many tokens were generated, 1..maxOutputTokens.
    function commitResult(uint256 jobId, bytes32 traceRoot, bytes32 outputRoot, uint32 outputTokens) external;

    function getJob(uint256 jobId) external view returns (Job memory);

    // ---- Audit pool (docs/PROTOCOL.md §9.2).

    /// @notice Audit fees collected and not yet paid to auditors.
    function auditPool() external view returns (uint256);

    /// @notice Credit an auditor's vested pay from the pool; only the audit manager.
    function payFromAuditPool(address auditor, uint256 amount) external;

    // ---- Dispute hook (docs/PROTOCOL.md §5.5): callable only by the governance-set dispute games.

    /// @notice Freeze settlement of `jobId` while a dispute runs. Must be called before the
    /// challenge deadline on a Committed job; the audit manager may refuse it while the job's
    /// auditor has priority (PROTOCOL §9.1). Returns the dispute's sequence number on the job.
    function onDisputeOpened(uint256 jobId, address challenger) external returns (uint32 seq);

    /// @notice Release the freeze. If `proverAtFault`, the job becomes Slashed: the client gets
    /// the whole escrow back and the prover's collateral and a share of its stake are slashed
    /// (PROTOCOL §9.4); the reward goes to the earliest-opened dispute still unresolved at that
    /// moment (§9.5). Resolving a job that is already Slashed only decrements its open dispute
    /// count and competes for the reward.
    function onDisputeResolved(uint256 jobId, uint32 seq, bool proverAtFault, address challenger) external;
}
