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
