// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Model registry interface
/// @notice A model version is registered once and never changes: its weights commitment,
/// architecture, trace encoding and the per-operation tolerances the dispute game judges with.
/// @dev Encodings and tolerance semantics: docs/PROTOCOL.md §2, §3 and §6.
interface IModelRegistry {
    /// @notice Llama-family architecture parameters (docs/PROTOCOL.md §2.1).
    struct Architecture {
        uint32 layers;
        uint32 hidden;
        uint32 heads;
        uint32 kvHeads;
        uint32 ffn;
        uint32 vocab;
        uint32 context;
        /// IEEE-754 binary32 bit pattern of the RMSNorm epsilon (exact, no rounding on-chain).
        uint32 normEpsBits;
        /// RoPE base, an integer in every Llama-family checkpoint (10000, 500000, ...).
        uint32 ropeTheta;
    }

    /// @notice How trace and weight chunks are encoded (docs/PROTOCOL.md §3).
    struct Encoding {
        /// 1 = IEEE binary16 little-endian, 2 = IEEE binary32 little-endian.
        uint8 traceDtype;
        /// 1 = binary16, 2 = binary32 (weights as committed in `weightsRoot`).
        uint8 weightsDtype;
        /// Elements per chunk C; the last chunk of a row may be shorter.
        uint32 chunkSize;
    }

    /// @notice Tolerance of one operation: |claimed - ref| <= atol + rtol * |ref| (+ per-op terms).
    /// @dev Both are unsigned fixed point with 32 fractional bits (value / 2^32), docs/PROTOCOL.md §6.
    struct OpTolerance {
        uint64 atol;
        uint64 rtol;
    }

    struct Model {
        bytes32 weightsRoot;
        /// keccak256 of the model package manifest (docs/PROTOCOL.md §2.2), for off-chain lookup.
        bytes32 manifestHash;
        Architecture arch;
        Encoding encoding;
        address registrant;
        uint64 registeredAt;
    }

    error ModelAlreadyRegistered(bytes32 modelId);
    error ModelNotRegistered(bytes32 modelId);
    error InvalidArchitecture(string field);
    error InvalidEncoding(uint8 traceDtype, uint8 weightsDtype, uint32 chunkSize);
    error InvalidTolerances(uint256 given, uint256 expected);

    event ModelRegistered(
        bytes32 indexed modelId, bytes32 weightsRoot, bytes32 manifestHash, address indexed registrant
    );

    /// @notice Register a model version. Reverts if `modelId` exists: registrations are immutable.
    function registerModel(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes32 manifestHash,
        Architecture calldata arch,
        Encoding calldata encoding,
        OpTolerance[] calldata tolerances
    ) external;

    function isRegistered(bytes32 modelId) external view returns (bool);

    function getModel(bytes32 modelId) external view returns (Model memory);

    /// @notice Tolerance for operation code `op` (docs/PROTOCOL.md §6); reverts if unregistered.
    function tolerance(bytes32 modelId, uint8 op) external view returns (OpTolerance memory);

    /// @notice Number of operation codes whose tolerance every registration must provide.
    function OP_COUNT() external view returns (uint8);
}
