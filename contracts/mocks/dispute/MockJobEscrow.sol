// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../../interfaces/IJobEscrow.sol";

/// @notice Minimal escrow for dispute tests: stores jobs verbatim, enforces the dispute-hook
/// rules of PROTOCOL §5.5 (Committed, t ≤ challengeDeadline, only the game) and records calls.
contract MockJobEscrow is IJobEscrow {
    mapping(uint256 => Job) internal _jobs;
    address public game;
    uint256 public faultResolutions;
    uint256 public cleanResolutions;
    address public lastChallenger;
    mapping(uint256 => uint32) public disputesOpened;

    error OnlyGame(address caller);
    error NotCommitted(uint256 jobId);
    error WindowClosed(uint256 jobId);
    error NoOpenDispute(uint256 jobId);

    function setGame(address game_) external {
        game = game_;
    }

    function setJob(uint256 jobId, Job calldata job) external {
        _jobs[jobId] = job;
    }

    function openJob(OpenJobParams calldata) external pure returns (uint256) {
        revert("mock");
    }

    function commitResult(uint256, bytes32, bytes32, uint32) external pure {
        revert("mock");
    }

    function getJob(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    function auditPool() external pure returns (uint256) {
        return 0;
    }

    function payFromAuditPool(address, uint256) external pure {
        revert("mock");
    }

    function onDisputeOpened(uint256 jobId, address) external returns (uint32 seq) {
        if (msg.sender != game) revert OnlyGame(msg.sender);
        Job storage j = _jobs[jobId];
        if (j.status != JobStatus.Committed) revert NotCommitted(jobId);
        if (block.timestamp > j.challengeDeadline) revert WindowClosed(jobId);
        j.openDisputes += 1;
        seq = ++disputesOpened[jobId];
    }

    function onDisputeResolved(uint256 jobId, uint32, bool proverAtFault, address challenger) external {
        if (msg.sender != game) revert OnlyGame(msg.sender);
        Job storage j = _jobs[jobId];
        if (j.openDisputes == 0) revert NoOpenDispute(jobId);
        j.openDisputes -= 1;
        lastChallenger = challenger;
        if (proverAtFault) {
            faultResolutions += 1;
            if (j.status == JobStatus.Committed) j.status = JobStatus.Slashed;
        } else {
            cleanResolutions += 1;
        }
    }
}
