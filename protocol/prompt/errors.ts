import { StepproofError } from "../errors.js";

/** The prompt cannot be turned into token ids (unsupported tokenizer, bad message). */
export class PromptEncodingError extends StepproofError {
  override name = "PromptEncodingError";
}
