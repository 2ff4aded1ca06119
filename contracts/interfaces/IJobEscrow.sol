// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Job escrow interface
/// @notice Clients escrow the maximum cost of a job; the prover commits a trace root; after the
/// challenge window anyone finalizes and the prover is paid per token. State machine:
/// docs/PROTOCOL.md §5.
interface IJobEscrow {
    enum JobStatus {
        None,
        Open, // escrowed, waiting for the prover's commitment
        Committed, // result committed, challenge window running (frozen while disputes are open)
        Finalized, // prover paid, client refunded the rest
        Expired, // prover missed the commit deadline: client refunded and compensated
        Slashed // a dispute proved fraud: client refunded, prover slashed
    }

    struct OpenJobParams {
        address prover;
        bytes32 modelId;
        bytes32 promptHash;
        /// Packed sampling rule (docs/PROTOCOL.md §4.4); 0 = greedy.
        uint256 samplingParams;
        uint32 maxInputTokens;
        uint32 maxOutputTokens;
        /// Prices the client agreed to; the job reverts if the prover's offer differs.
        uint128 inputPrice;
        uint128 outputPrice;
    }

    /// @dev Field order packs the struct into 10 storage slots (one fewer than declaration order).
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
        bytes32 promptHash;
        uint256 samplingParams;
        bytes32 traceRoot;
        bytes32 outputHash;
        uint128 inputPrice;
        uint128 outputPrice;
        uint128 escrowed;
        uint128 collateral;
        uint32 maxInputTokens;
        uint32 maxOutputTokens;
        uint32 inputTokens;
        uint32 outputTokens;
        uint64 challengeDeadline;
        JobStatus status;
        /// The client published the prompt on-chain (publishPrompt): only then can a missed
        /// commit be blamed on the prover (PROTOCOL §5.3).
        bool promptPublished;
    }

    /// @notice Open a job and escrow `maxInputTokens*inputPrice + maxOutputTokens*outputPrice`.
    function openJob(OpenJobParams calldata params) external returns (uint256 jobId);

    /// @notice The job's prover commits the result; starts the challenge window.
    function commitResult(
        uint256 jobId,
        bytes32 traceRoot,
        bytes32 outputHash,
        uint32 inputTokens,
        uint32 outputTokens
    ) external;

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
