import { SpendingLimitError } from "../errors.js";

export type SpendingLimits = {
  /** Most one request may escrow (token base units). */
  perRequest?: bigint;
  /** Most all requests of one UTC day may escrow or spend together. */
  perDay?: bigint;
};

/**
 * The gateway's spending limits. A request reserves its whole escrow before the job opens (so
 * concurrent requests can never overspend together) and, once the commitment is checked, keeps
 * only what the job costs. A failed job keeps its reservation: its escrow is refunded on-chain
 * only later (after the prover's deadline), so counting it as spent is the safe side.
 * Kept in memory: a restarted gateway starts the day afresh (documented in README).
 */
export class SpendingLedger {
  private day = "";
  private spentToday = 0n;

  constructor(
    private readonly limits: SpendingLimits,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The most the next request may escrow, or undefined when unlimited. */
  allowance(): bigint | undefined {
    this.roll();
    const left = this.limits.perDay === undefined ? undefined : this.limits.perDay - this.spentToday;
    if (left !== undefined && left <= 0n) {
      throw new SpendingLimitError(`the daily spending limit of ${this.limits.perDay} is used up (spent or reserved ${this.spentToday} today, UTC)`, 0n, this.limits.perDay!);
    }
    if (this.limits.perRequest === undefined) return left;
    return left === undefined || this.limits.perRequest < left ? this.limits.perRequest : left;
  }

  /** Reserve a job's escrow; returns the function that settles it to the job's real cost. */
  reserve(escrow: bigint): (cost: bigint) => void {
    this.roll();
    const day = this.day;
    this.spentToday += escrow;
    let settled = false;
    return (cost: bigint) => {
      if (settled || day !== this.day) return;
      settled = true;
      this.spentToday -= escrow - cost;
    };
  }

  spent(): bigint {
    this.roll();
    return this.spentToday;
  }

  private roll() {
    const day = this.now().toISOString().slice(0, 10);
    if (day !== this.day) {
      this.day = day;
      this.spentToday = 0n;
    }
  }
}
