/**
 * Dispute tooling for both nodes (PROTOCOL §7): honest step builder, step root and proof
 * builders, the challenger's search and the stateless agent.
 */
export * from "./tensors.js";
export * from "./model.js";
export * from "./step.js";
export * from "./proofs.js";
export * from "./scan.js";
export * from "./agent.js";
export * from "./demand.js";
export { honestStep } from "./moves.js";
export { descend, DEVIATION_SHARE, SLACK_SHARE } from "./descent.js";
export { generateTrace, generateGreedy, generateSampled, greedyNext, headLogitsF32 } from "./forward.js";
export { syntheticWeights, syntheticTokens, f32Bits } from "./synthetic.js";
