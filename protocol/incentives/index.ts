/** Pure mirrors of the contracts' incentive formulas (PROTOCOL §5, §9), integer-exact. */
export * from "./params.js";
export * from "./detection.js";
export * from "./settlement.js";
export * from "./slashing.js";
