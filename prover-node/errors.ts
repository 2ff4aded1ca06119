import { StepproofError } from "../protocol/errors.js";

/** Base of the prover node's own failures (configuration, keystore, state, serving). */
export class ProverNodeError extends StepproofError {
  override name = "ProverNodeError";
}

export class ConfigError extends ProverNodeError {
  override name = "ConfigError";
}

/**
 * A request the node refuses (PROTOCOL §5.6 error codes). Thrown before any state changes,
 * turned into `{ error: { message, type, code } }` with `status` by the HTTP layer.
 */
export class ApiError extends ProverNodeError {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: { details?: string; cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Sent as `Retry-After` (429, 503): when the refusal is worth retrying. */
  readonly retryAfterSeconds: number | undefined;
}
