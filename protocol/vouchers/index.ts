export * from "./voucher.js";
export * from "./batch.js";
