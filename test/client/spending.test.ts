import { describe, expect, it } from "vitest";
import { SpendingLimitError } from "../../client/errors.js";
import { SpendingLedger } from "../../client/gateway/spending.js";

describe("gateway spending limits", () => {
  it("reserves whole escrows, keeps only the cost, refuses once the day is used up, starts afresh next UTC day", () => {
    let now = new Date("2026-12-02T10:00:00Z");
    const ledger = new SpendingLedger({ perRequest: 50n, perDay: 100n }, () => now);
    expect(ledger.allowance()).toBe(50n);
    const settleA = ledger.reserve(50n);
    const settleB = ledger.reserve(40n); // concurrent: both reservations count
    expect(ledger.allowance()).toBe(10n);
    settleA(20n);
    settleA(0n); // settling twice changes nothing
    expect(ledger.spent()).toBe(60n);
    settleB(40n);
    ledger.reserve(40n); // a failed job keeps its reservation: 100 of 100 used
    expect(() => ledger.allowance()).toThrow(SpendingLimitError);
    now = new Date("2026-12-03T00:00:01Z");
    expect(ledger.allowance()).toBe(50n);
    expect(ledger.spent()).toBe(0n);
  });

  it("is unlimited without limits", () => {
    expect(new SpendingLedger({}).allowance()).toBeUndefined();
  });
});
