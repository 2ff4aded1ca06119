import type { Address, Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { CapacityView } from "../../prover-node/capacity.js";
import { ApiError } from "../../prover-node/errors.js";
import { createProverMetrics } from "../../prover-node/metrics.js";

const PROVER = "0x00000000000000000000000000000000000b0b00" as Address;
const MODEL = `0x${"11".repeat(32)}` as Hex;

/** A chain whose reads a test moves on by hand: the prover's node, the escrow's params, the head. */
function fakeChain() {
  const chain = { now: 900n, jailedUntil: 1000n, stake: 500n * 10n ** 18n, reads: 0 };
  const publicClient = {
    async readContract({ functionName }: { functionName: string }) {
      chain.reads++;
      switch (functionName) {
        case "getNode":
          return { role: 1, stake: chain.stake, locked: 0n, unbonding: 0n, unbondingReadyAt: 0n, jailedUntil: chain.jailedUntil, endpoint: "" };
        case "minProverStake":
          return 100n * 10n ** 18n;
        case "exposure":
          return 0n;
        case "params":
          return { minCollateral: 10n ** 18n, collateralBps: 20_000 };
        case "exposureLimit":
          return 10n ** 24n;
        default:
          throw new Error(`unexpected read ${functionName}`);
      }
    },
    async getBlock() {
      return { timestamp: chain.now, number: chain.now };
    },
  };
  const clients = { publicClient, deployment: { contracts: { nodeRegistry: PROVER, jobEscrow: PROVER, auditManager: PROVER } } } as unknown as StepproofClients;
  return { chain, clients };
}

describe("a prover's capacity refusals (PROTOCOL §5.7)", () => {
  it("a refusal is re-read when a new block may have changed it, even right after a read", async () => {
    const { chain, clients } = fakeChain();
    const view = new CapacityView(clients, PROVER, MODEL, { input: 1n, output: 1n }, createProverMetrics(), { warn: () => {} });
    await expect(view.refuseUnlessTakes(3, 4)).rejects.toSatisfy((e: unknown) => e instanceof ApiError && e.code === "jailed");
    // The jail ends with the next block (a time jump, as the incentives e2e makes): the cached
    // read is milliseconds old, but the head moved, so the refusal is checked again and dropped.
    chain.now = 1001n;
    await expect(view.refuseUnlessTakes(3, 4)).resolves.toBeUndefined();
  });

  it("a refusal on an unchanged chain is answered from the cache", async () => {
    const { chain, clients } = fakeChain();
    const view = new CapacityView(clients, PROVER, MODEL, { input: 1n, output: 1n }, createProverMetrics(), { warn: () => {} });
    await expect(view.refuseUnlessTakes(3, 4)).rejects.toBeInstanceOf(ApiError);
    const reads = chain.reads;
    await expect(view.refuseUnlessTakes(3, 4)).rejects.toBeInstanceOf(ApiError);
    expect(chain.reads).toBe(reads);
  });
});
