export * from "./voucher.js";
export * from "./batch.js";
export * from "./check.js";
export * from "./wire.js";
