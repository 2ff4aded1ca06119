export * from "./chat.js";
export * from "./errors.js";
export * from "./load-tokenizer.js";
export * from "./output-text.js";
export * from "./prompt.js";
export * from "./streaming-decoder.js";
export type { TextTokenizer, TokenizerFiles, TokenizerSpec } from "./tokenizer.js";
