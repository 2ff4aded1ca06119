import { keccak256, toBytes } from "viem";

/** Leaf domain tags, PROTOCOL §3.2. */
export const TRACE_DOMAIN = keccak256(toBytes("stepproof.trace.v1"));
export const WEIGHTS_DOMAIN = keccak256(toBytes("stepproof.weights.v1"));
export const STEP_DOMAIN = keccak256(toBytes("stepproof.step.v1"));

/** Trace tensor id of the token leaves, PROTOCOL §3.4. */
export const TOKEN_TENSOR = 2 ** 32 - 1;
