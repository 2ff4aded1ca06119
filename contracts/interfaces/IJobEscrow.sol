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
        uint64 openedAt;
        /// Terms fixed when the job opened, so governance cannot change a running job's deal.
        uint32 challengeWindow;
        address prover;
        uint64 commitDeadline;
        uint16 feeBps;
        uint16 openDisputes;
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
    }

    /// @notice Open a job and escrow `inputTokens*inputPrice + maxOutputTokens*outputPrice`.
    function openJob(OpenJobParams calldata params) external returns (uint256 jobId);

    /// @notice The job's prover commits the result; starts the challenge window.
    /// @param outputRoot Token root of the generated tokens at positions inputTokens.. (PROTOCOL §3.4).
    /// @param outputTokens How many tokens were generated, 1..maxOutputTokens.
    function commitResult(uint256 jobId, bytes32 traceRoot, bytes32 outputRoot, uint32 outputTokens) external;

    function getJob(uint256 jobId) external view returns (Job memory);

    // ---- Dispute hook (docs/PROTOCOL.md §5.5): callable only by the governance-set dispute game.

    /// @notice Freeze settlement of `jobId` while a dispute runs. Must be called before the
    /// challenge deadline on a Committed job.
    function onDisputeOpened(uint256 jobId) external;

    /// @notice Release the freeze. If `proverAtFault`, the job becomes Slashed: the client gets
    /// the whole escrow back and the prover's collateral is slashed, part of it to `challenger`.
    /// Resolving a job that is already Slashed only decrements its open dispute count.
    function onDisputeResolved(uint256 jobId, bool proverAtFault, address challenger) external;
}
