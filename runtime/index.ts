/**
 * Public runtime API (PROTOCOL §4). Data flow: model package → sessions → generate (trace
 * capture) → TraceCommitment (root, proofs) → TraceStore (disk) → reexecuteLayer (verifier).
 */
export { StepproofRuntimeError, ModelPackageError } from "./errors.js";
export type { Architecture } from "./model/architecture.js";
export { headDim, normEps } from "./model/architecture.js";
export { BlockKind, GlobalKind, tensorId, weightTensors, type TensorSpec } from "./model/layout.js";
export { readManifest, type ModelManifest, type LayerThresholds, type GraphVariant } from "./model/manifest.js";
export { loadModelWeights, weightsLeafIndex, weightsTree, type CommittedTensor, type ModelWeights } from "./model/weights.js";
export { generateSyntheticModel, PRESETS, type PresetName } from "./model/synthetic.js";
export { importHfCheckpoint, UnsupportedCheckpointError } from "./model/hf-import.js";
export { ModelSessions, getModelSessions, releaseAllSessions, ExecutionProviderUnavailableError, type SessionConfig, type ExecutionProvider } from "./session.js";
export { embed, runBlock, headLogits, emptyKvCache, type HiddenData, type KvCache } from "./forward.js";
export { generate, GenerationError, type GenerateParameters, type GenerateReturnType } from "./generate.js";
export { decodeSamplingParams, encodeSamplingParams, sampleToken, argmax, samplingRule, UnverifiableSamplingError, type SamplingParams } from "./sampling.js";
export { generateBatch, type BatchRequest, type GenerateBatchParameters, type GenerateBatchReturnType } from "./generate-batch.js";
export { TraceBuilder, type TraceSink } from "./trace/builder.js";
export { TraceCommitment, type ChunkProof, type HiddenRowSource, type TraceSlice } from "./trace/commitment.js";
export { TraceLayout } from "./trace/layout.js";
export { buildMultiProof, buildMultiProofs, leafDepths, processMultiProof, MultiProofUnsupportedError, type MultiProof } from "./trace/multiproof.js";
export { TraceStore, TraceStoreError, TraceStoreFullError, type TraceStoreOptions } from "./trace/store.js";
export { reexecuteLayer, checkSampling, deviation, ReexecutionError, type ReexecuteLayerReturnType, type ReplayableTrace } from "./reexec.js";
export { calibrate, REFERENCE_SETUP, ALTERNATIVE_SETUPS, DEFAULT_MARGIN } from "./calibration.js";
