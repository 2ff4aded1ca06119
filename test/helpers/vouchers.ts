import { keccak256, toHex, type Address } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import type { Voucher } from "../../protocol/vouchers/index.js";

/** A client and a prover for batch-committer tests that need no chain. */
export const CLIENT = "0x00000000000000000000000000000000000c11e0" as Address;
export const PROVER = "0x0000000000000000000000000000000000000f00" as Address;

/** A voucher of CLIENT to PROVER with the given nonce (its signature is never checked in these tests). */
export const voucher = (nonce: bigint): Voucher => ({
  client: CLIENT, prover: PROVER, modelId: keccak256(toHex("m")), promptRoot: keccak256(toHex("p")), samplingParams: 0n,
  inputTokens: 3, maxOutputTokens: 4, inputPrice: 1n, outputPrice: 1n, nonce, expiry: 10_000n,
});
export const VOUCHER_SIGNATURE = `0x${"11".repeat(64)}1b` as const;

/** The chain reads a committer's pass makes, answered from memory: an ample reserve, an empty batch slot. */
export function committerChain(): StepproofClients {
  return {
    publicClient: {
      getBlock: async () => ({ timestamp: 1_000n }),
      getTransactionReceipt: async () => undefined,
      readContract: async ({ functionName }: { functionName: string }) =>
        functionName === "reserveOf" ? { reserved: 10n ** 30n, held: 0n } : functionName === "batchHash" ? `0x${"00".repeat(32)}` : { collateralBps: 20_000 },
    },
    deployment: { contracts: { voucherEscrow: PROVER, batchCourt: PROVER } },
  } as unknown as StepproofClients;
}
