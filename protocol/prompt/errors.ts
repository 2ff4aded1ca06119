import { StepproofError } from "../errors.js";

/** The prompt cannot be turned into token ids (unsupported tokenizer, bad message). */
export class PromptEncodingError extends StepproofError {
  override name = "PromptEncodingError";
}

/** A chat reached a model whose package has no chat template (PROTOCOL §5.6). */
export class ChatTemplateMissingError extends PromptEncodingError {
  override name = "ChatTemplateMissingError";
}

/** Tokenizer files are missing, unreadable, or do not hash to what the manifest pins. */
export class TokenizerFileError extends StepproofError {
  override name = "TokenizerFileError";
}
