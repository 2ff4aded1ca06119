/**
 * The one error base of stepproof (viem style): a short message, optional details, and a
 * `cause` chain that `walk` follows. Subclasses name the failure so callers can branch on
 * `instanceof` and print `shortMessage` to users.
 */
export class StepproofError extends Error {
  override name = "StepproofError";
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(shortMessage: string, options: { details?: string; cause?: unknown } = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, { cause: options.cause });
    this.shortMessage = shortMessage;
    this.details = options.details;
  }

  /** Walk the cause chain until `fn` matches; without `fn`, return the innermost cause. */
  walk(fn?: (err: unknown) => boolean): unknown {
    let err: unknown = this;
    while (err instanceof Error && err.cause !== undefined) {
      if (fn?.(err)) return err;
      err = err.cause;
    }
    return fn ? (fn(err) ? err : null) : err;
  }
}
