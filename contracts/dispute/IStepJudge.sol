// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title One-step judge interface (docs/PROTOCOL.md §7.4)
/// @notice Stateless: given the three trusted roots, the step's dimensions and one claimed
/// element with its Merkle openings, recompute the element exactly and compare it with the
/// claim under the operation's tolerance.
interface IStepJudge {
    /// @notice Everything the judge trusts, assembled by the game from the escrow and registry.
    struct Context {
        bytes32 traceRoot;
        /// Token roots of the job (PROTOCOL §3.4): tokens at positions < inputTokens are read from
        /// the client's prompt root, later ones from the committed output root, never from the trace.
        bytes32 promptRoot;
        bytes32 outputRoot;
        bytes32 weightsRoot;
        bytes32 stepRoot;
        uint256 position; // t
        uint256 layer; // l: 0 = embedding step, 1..L = block l, L + 1 = head step
        uint256 layers; // L
        uint256 inputTokens; // prompt length: tokens before it are given, not sampled
        uint256 samplingParams; // the job's sampling rule; its seed keys the Gumbel noise (PROTOCOL §4.4)
        uint8 traceDtype;
        uint8 weightsDtype;
        uint256 chunkSize;
        uint256 hidden;
        uint256 heads;
        uint256 kvHeads;
        uint256 ffn;
        uint256 vocab;
        uint32 normEpsBits;
        uint32 ropeTheta;
        uint64 atol; // tolerance of the claim's operation, Q32.32
        uint64 rtol;
    }

    /// @notice The challenged element: element `col` of row `row` of step tensor `tensor`
    /// (StepLayout ids; OUT and EMBED name trace elements).
    struct Claim {
        uint256 tensor;
        uint256 row;
        uint256 col;
    }

    /// @notice One committed chunk and its Merkle proof; which leaf it must be is derived
    /// from the claim, never taken from the caller.
    struct Opening {
        bytes chunk;
        bytes32[] proof;
    }

    struct Verdict {
        bool fraud;
        uint8 op;
        int256 claimed; // Q48
        int256 ref; // Q48
        uint256 bound; // Q48
    }

    /// @notice A prover-committed (trace or step) chunk is malformed: wrong length, a
    /// non-finite or out-of-domain value, or a token outside the vocabulary. Proves fraud.
    error ProverCommitmentMalformed(uint8 source, uint256 tensorId, uint256 row, uint256 chunkIndex);
    /// @notice A registered weight chunk is malformed (a registry problem, never the prover's).
    error WeightsMalformed(uint256 tensorId, uint256 row, uint256 chunkIndex);
    error InvalidClaim(uint256 tensor, uint256 row, uint256 col);
    error WrongOpeningCount(uint256 given, uint256 expected);

    /// @notice Judge one claimed element. Reverts on invalid claims and bad proofs; reverts
    /// with `ProverCommitmentMalformed`, which the game treats as proven fraud.
    function judge(Context calldata ctx, Claim calldata claim, Opening[] calldata openings)
        external
        pure
        returns (Verdict memory);
}
