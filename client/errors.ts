import { StepproofError } from "../protocol/errors.js";

/** A client-side failure: bad arguments, no prover, a prover that broke the protocol. */
export class ClientError extends StepproofError {
  override name = "ClientError";
}

/** The job would escrow more than the caller allows (checked before anything is paid). */
export class SpendingLimitError extends ClientError {
  override name = "SpendingLimitError";
  constructor(
    message: string,
    readonly escrow: bigint,
    readonly limit: bigint,
  ) {
    super(message);
  }
}

/** The prover's answer contradicts what it committed on-chain (PROTOCOL §5.6). */
export class CommitmentMismatchError extends ClientError {
  override name = "CommitmentMismatchError";
}

/**
 * The prompt and the output asked for do not fit the model's context (`P + maxOut ≤ context`,
 * PROTOCOL §5.3): refused before anything is paid, where the chain would revert
 * InvalidTokenLimits after the client had already spent gas on an approval.
 */
export class ContextLengthError extends ClientError {
  override name = "ContextLengthError";
  constructor(
    readonly promptTokens: number,
    readonly maxTokens: number,
    readonly context: number,
  ) {
    super(`the prompt is ${promptTokens} tokens and up to ${maxTokens} output tokens are asked for: ${promptTokens + maxTokens} is over the model's context of ${context} tokens`, {
      details: promptTokens >= context ? `shorten the prompt below ${context} tokens` : `ask for at most ${context - promptTokens} output tokens (--max-tokens), or shorten the prompt`,
    });
  }
}
