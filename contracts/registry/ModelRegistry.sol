// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IModelRegistry} from "../interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Immutable registrations of model versions (docs/PROTOCOL.md §2, §3.5, §6). The
/// dispute game trusts the weights root and tolerances stored here, so a registration can
/// never be edited: a changed model is a new `modelId`.
contract ModelRegistry is IModelRegistry, AccessControl {
    /// @notice May register models (governance or a delegated curator).
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Largest chunk a dispute transaction may have to recompute (PROTOCOL §3.1).
    uint32 public constant MAX_CHUNK_SIZE = 4096;
    /// @notice binary32 bits of 2^-48, the smallest epsilon the Q48 judge represents (PROTOCOL §6.3).
    uint32 public constant MIN_NORM_EPS_BITS = 0x27800000;

    /// @inheritdoc IModelRegistry
    uint8 public immutable override OP_COUNT;

    mapping(bytes32 modelId => Model) private _models;
    mapping(bytes32 modelId => OpTolerance[]) private _tolerances;

    /// @param admin Receives DEFAULT_ADMIN_ROLE and REGISTRAR_ROLE.
    /// @param opCount Number of dispute operation codes (PROTOCOL §7.2); each registration
    /// provides exactly that many tolerances.
    constructor(address admin, uint8 opCount) {
        if (opCount == 0) revert InvalidTolerances(0, 1);
        OP_COUNT = opCount;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /// @inheritdoc IModelRegistry
    function registerModel(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes32 manifestHash,
        Architecture calldata arch,
        Encoding calldata encoding,
        OpTolerance[] calldata tolerances
    ) external onlyRole(REGISTRAR_ROLE) {
        // INVARIANT: a registration is written once; the dispute game relies on it never changing.
        if (_models[modelId].registeredAt != 0) revert ModelAlreadyRegistered(modelId);
        if (modelId == bytes32(0)) revert InvalidArchitecture("modelId");
        if (weightsRoot == bytes32(0)) revert InvalidArchitecture("weightsRoot");
        _validateArchitecture(arch);
        if (
            (encoding.traceDtype != 1 && encoding.traceDtype != 2)
                || (encoding.weightsDtype != 1 && encoding.weightsDtype != 2) || encoding.chunkSize == 0
                || encoding.chunkSize > MAX_CHUNK_SIZE
            // Reductions over the context are proven as ≤ C partials of ≤ C terms each, so a
            // dispute transaction stays bounded only if C² ≥ context (PROTOCOL §7.2).
                || uint256(encoding.chunkSize) * encoding.chunkSize < arch.context
        ) revert InvalidEncoding(encoding.traceDtype, encoding.weightsDtype, encoding.chunkSize);
        if (tolerances.length != OP_COUNT) revert InvalidTolerances(tolerances.length, OP_COUNT);

        _models[modelId] = Model({
            weightsRoot: weightsRoot,
            manifestHash: manifestHash,
            arch: arch,
            encoding: encoding,
            registrant: msg.sender,
            registeredAt: uint64(block.timestamp)
        });
        OpTolerance[] storage stored = _tolerances[modelId];
        for (uint256 i; i < tolerances.length; ++i) {
            stored.push(tolerances[i]);
        }
        emit ModelRegistered(modelId, weightsRoot, manifestHash, msg.sender);
    }

    /// @inheritdoc IModelRegistry
    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].registeredAt != 0;
    }

    /// @inheritdoc IModelRegistry
    function getModel(bytes32 modelId) external view returns (Model memory) {
        Model memory model = _models[modelId];
        if (model.registeredAt == 0) revert ModelNotRegistered(modelId);
        return model;
    }

    /// @inheritdoc IModelRegistry
    function tolerance(bytes32 modelId, uint8 op) external view returns (OpTolerance memory) {
        if (_models[modelId].registeredAt == 0) revert ModelNotRegistered(modelId);
        if (op >= OP_COUNT) revert InvalidTolerances(op, OP_COUNT);
        return _tolerances[modelId][op];
    }

    function _validateArchitecture(Architecture calldata arch) private pure {
        if (arch.layers == 0) revert InvalidArchitecture("layers");
        if (arch.hidden == 0) revert InvalidArchitecture("hidden");
        if (arch.heads == 0 || arch.hidden % arch.heads != 0) revert InvalidArchitecture("heads");
        if (arch.kvHeads == 0 || arch.heads % arch.kvHeads != 0) revert InvalidArchitecture("kvHeads");
        if (arch.ffn == 0) revert InvalidArchitecture("ffn");
        if (arch.vocab == 0) revert InvalidArchitecture("vocab");
        if (arch.context == 0) revert InvalidArchitecture("context");
        // ropeTheta packs the RoPE base (bits 0–30; 0 = inverse frequencies committed in the
        // weights) and the q/k/v-bias flag (bit 31): every value is a valid variant (PROTOCOL §2.1).
        // epsilon must be a finite binary32 in [2^-48, inf): sign clear, exponent not all ones,
        // and (positive floats order like their bits) at least MIN_NORM_EPS_BITS.
        uint32 eps = arch.normEpsBits;
        if (eps < MIN_NORM_EPS_BITS || eps >> 31 != 0 || (eps >> 23) & 0xff == 0xff) revert InvalidArchitecture("normEpsBits");
    }
}
