export * from "./domains.js";
export * from "./leaf.js";
export * from "./tree.js";
export * from "./token-root.js";
