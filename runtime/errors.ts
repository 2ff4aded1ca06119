import { StepproofError } from "../protocol/errors.js";

/** Base of the runtime's failures (one project-wide base: StepproofError, with its cause chain). */
export class StepproofRuntimeError extends StepproofError {
  override name = "StepproofRuntimeError";
}

/** The model package on disk is missing, malformed or does not match its manifest. */
export class ModelPackageError extends StepproofRuntimeError {
  override name = "ModelPackageError";
}

/** A checkpoint an importer cannot represent faithfully (PROTOCOL §4.7). */
export class UnsupportedCheckpointError extends ModelPackageError {
  override name = "UnsupportedCheckpointError";
}
