import { StepproofError } from "../protocol/errors.js";

/** A dashboard failure a user can act on (bad flags, an RPC that stopped answering). */
export class DashboardError extends StepproofError {
  override name = "DashboardError";
}
