/**
 * One error base for the runtime: a short message, optional details, and a `cause` chain
 * (viem style). Subclasses name the failure so callers can branch on `instanceof`.
 */
export class StepproofRuntimeError extends Error {
  override name = "StepproofRuntimeError";
  readonly details: string | undefined;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, { cause: options.cause });
    this.details = options.details;
  }

  /** Walk the cause chain until `fn` matches (or return the last error). */
  walk(fn?: (err: unknown) => boolean): unknown {
    let err: unknown = this;
    while (err instanceof Error && err.cause !== undefined) {
      if (fn?.(err)) return err;
      err = err.cause;
    }
    return fn ? (fn(err) ? err : null) : err;
  }
}

/** The model package on disk is missing, malformed or does not match its manifest. */
export class ModelPackageError extends StepproofRuntimeError {
  override name = "ModelPackageError";
}
