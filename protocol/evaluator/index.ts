/** The TypeScript judge, bit-identical to contracts/dispute (PROTOCOL §6–§7). */
export * from "./fixed.js";
export * as ops from "./ops.js";
export * from "./layout.js";
export * from "./judge.js";
