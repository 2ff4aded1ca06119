// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "./IJobEscrow.sol";

/// @title What the voucher escrow needs of the JobEscrow (docs/PROTOCOL.md §5.8)
/// @notice A batched job moves into the JobEscrow to be disputed there; batch fees feed the
/// JobEscrow's audit pool and treasury.
interface IJobAdoption {
    /// @notice Record a batched job as Committed, with a fresh challenge window. The caller has
    /// already transferred `job.escrowed` tokens and holds `job.collateral` of the prover's
    /// locked stake, whose lock moves with the job. Only `VOUCHERS_ROLE`.
    function adoptBatchedJob(IJobEscrow.Job calldata job) external returns (uint256 jobId);

    function fundAuditPool(uint256 amount) external;

    function treasury() external view returns (address);

    function auditManager() external view returns (address);

    function verifiableSampling(uint256 samplingParams) external pure returns (bool);
}
