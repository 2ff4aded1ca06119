// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IModelRegistry} from "../../interfaces/IModelRegistry.sol";
import {OpCodes} from "../../dispute/OpCodes.sol";

/// @notice Minimal model registry for dispute tests (no access control, no immutability).
contract MockModelRegistry is IModelRegistry {
    mapping(bytes32 => Model) internal _models;
    mapping(bytes32 => mapping(uint8 => OpTolerance)) internal _tol;

    function registerModel(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes32 manifestHash,
        Architecture calldata arch,
        Encoding calldata encoding,
        OpTolerance[] calldata tolerances
    ) external {
        if (tolerances.length != OpCodes.COUNT) revert InvalidTolerances(tolerances.length, OpCodes.COUNT);
        _models[modelId] = Model(weightsRoot, manifestHash, arch, encoding, msg.sender, uint64(block.timestamp));
        for (uint8 i = 0; i < OpCodes.COUNT; ++i) {
            _tol[modelId][i] = tolerances[i];
        }
    }

    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].registeredAt != 0;
    }

    function getModel(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    function tolerance(bytes32 modelId, uint8 op) external view returns (OpTolerance memory) {
        return _tol[modelId][op];
    }

    function OP_COUNT() external pure returns (uint8) {
        return OpCodes.COUNT;
    }
}
