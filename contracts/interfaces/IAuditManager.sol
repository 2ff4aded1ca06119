// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Audit manager interface: what the job escrow asks of it (docs/PROTOCOL.md §9)
/// @notice Protocol-assigned audits: which committed jobs are audited, by which pool verifier,
/// how large a prover's open exposure may be for the audit rate to deter cheating, and what a
/// proven fraud costs the prover.
interface IAuditManager {
    /// @notice A job's result was committed in this block: its audit draw is seeded by this
    /// block's hash, which the prover could not know when it sent the commitment.
    function onResultCommitted(uint256 jobId, bytes32 modelId, uint64 challengeDeadline) external;

    /// @notice A dispute (`stepDispute`) or an availability challenge, number `seq` on the job,
    /// is opening on `jobId`. Reverts while the job's assigned auditor has the exclusive right
    /// to challenge it.
    function onDisputeOpened(uint256 jobId, address challenger, bool stepDispute, uint32 seq) external;

    /// @notice Availability challenge `seq` on `jobId` was resolved (`answered`, or not: the job is
    /// or was slashed). If it was the assigned auditor's, opened within its first deadline, and
    /// answered, the auditor gets `auditPeriod` from now to use what was published (its priority
    /// and deadline extended). Returns the last second the job must stay open to disputes for
    /// that (0: no extension).
    function onAvailabilityResolved(uint256 jobId, uint32 seq, bool answered) external returns (uint64 disputableUntil);

    /// @notice The job settled: an assignment left unanswered past its deadline counts as missed.
    /// Never reverts for the job's sake.
    function onJobFinalized(uint256 jobId) external;

    /// @notice The most escrow a prover with `freeStake` may have open on jobs of `modelId` so
    /// that the expected loss of cheating is at least DETERRENCE times the gain (PROTOCOL §9.4).
    /// Reverts `NoAuditors` while the model's pool is empty.
    function exposureLimit(bytes32 modelId, uint256 freeStake) external view returns (uint256);

    /// @notice Share of a fraudulent prover's free and unbonding stake slashed on top of the
    /// job's collateral, and how long it is jailed.
    function fraudPenalty() external view returns (uint16 slashShareBps, uint32 jailPeriod);

    /// @notice Share of each settled job's cost paid into the audit pool (snapshotted at open).
    function auditFeeBps() external view returns (uint16);
}
