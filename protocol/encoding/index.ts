export * from "./float16.js";
export * from "./dtype.js";
export * from "./chunking.js";
