import { ContractFunctionExecutionError, ContractFunctionRevertedError, encodeErrorResult, parseEther, zeroAddress, type Abi } from "viem";
import { describe, expect, it } from "vitest";
import { toTransactionError, TransactionError } from "../../protocol/chain/actions/send.js";
import { jobEscrowAbi, nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { decodeRevert, formatRevert } from "../../protocol/chain/revert-error.js";

/** The error viem raises when a simulation reverts with `errorName(args)`, wrapped as in a real call. */
function reverted(abi: Abi, errorName: string, args: readonly unknown[]) {
  const data = encodeErrorResult({ abi, errorName, args } as Parameters<typeof encodeErrorResult>[0]);
  const inner = new ContractFunctionRevertedError({ abi, data, functionName: "openJob" });
  return new ContractFunctionExecutionError(inner, { abi, functionName: "openJob", args: [] });
}

/** Issue #14 item 7: a revert's numbers are named, from the ABI, for every custom error. */
describe("revert formatting", () => {
  it("names every field of a custom error from the ABI's parameter names", () => {
    const r = decodeRevert(reverted(jobEscrowAbi as Abi, "InvalidTokenLimits", [601, 8, 512]))!;
    expect(formatRevert(r)).toBe("InvalidTokenLimits(inputTokens=601, maxOutputTokens=8, context=512)");
  });

  it("says what the commonest reverts mean, amounts in tokens", () => {
    const e = toTransactionError("open a job", reverted(jobEscrowAbi as Abi, "InvalidTokenLimits", [601, 8, 512]));
    expect(e).toBeInstanceOf(TransactionError);
    expect(e.revertName).toBe("InvalidTokenLimits");
    expect(e.shortMessage).toBe("Cannot open a job: InvalidTokenLimits(inputTokens=601, maxOutputTokens=8, context=512).");
    expect(e.details).toMatch(/\(601 \+ 8\) at most the model's context of 512 tokens/);
    const d = toTransactionError("open a job", reverted(jobEscrowAbi as Abi, "InsufficientDeterrence", [zeroAddress, parseEther("2"), parseEther("1.5")]));
    expect(d.details).toMatch(/would be 2 tokens, over the 1.5 tokens/);
    const m = toTransactionError("set the offer", reverted(nodeRegistryAbi as Abi, "ModelUnknown", [`0x${"ab".repeat(32)}`]));
    expect(m.shortMessage).toBe(`Cannot set the offer: ModelUnknown(modelId=0x${"ab".repeat(32)}).`);
    expect(m.details).toMatch(/npm run model:register/);
  });

  it("keeps a trailing-underscore name readable and leaves non-reverts alone", () => {
    const r = decodeRevert(reverted(nodeRegistryAbi as Abi, "UnbondingNotReady", [zeroAddress, 100n, 50n]))!;
    expect(formatRevert(r)).toBe(`UnbondingNotReady(node=${zeroAddress}, readyAt=100, now=50)`);
    expect(decodeRevert(new Error("socket hang up"))).toBeUndefined();
    const plain = toTransactionError("finalize job 1", new Error("socket hang up"));
    expect(plain.shortMessage).toBe("Cannot finalize job 1.");
    expect(plain.cause).toBeInstanceOf(Error);
  });
});
