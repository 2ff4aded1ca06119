import type { Abi, Hash, TransactionReceipt } from "viem";
import { StepproofError } from "../../errors.js";
import type { StepproofClients } from "../client.js";
import * as generated from "../generated/abi.js";
import { decodeRevert, explainRevert, formatRevert } from "../revert-error.js";

/**
 * Every custom error of the suite. A call into one contract can revert with another's error
 * (openJob with NodeRegistry's `Jailed` or AuditManager's `NoAuditors`, openDispute with
 * `AuditorPriority`): decoding against all of them names the real reason.
 */
const SUITE_ERRORS: Abi = (() => {
  const seen = new Set<string>();
  const out: Abi[number][] = [];
  for (const abi of Object.values(generated) as Abi[]) {
    for (const item of abi) {
      if (item.type !== "error") continue;
      const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(item);
      }
    }
  }
  return out;
})();

/** The ABI plus every suite error it does not declare itself. */
export function withSuiteErrors(abi: Abi): Abi {
  const own = new Set(abi.filter((i) => i.type === "error").map((i) => (i as { name: string }).name));
  return [...abi, ...SUITE_ERRORS.filter((e) => !own.has((e as { name: string }).name))];
}

export class TransactionError extends StepproofError {
  override name = "TransactionError";
  /** Custom error name when the contract reverted with one (e.g. "ChallengeWindowOpen"). */
  readonly revertName: string | undefined;
  readonly revertArgs: readonly unknown[] | undefined;

  constructor(shortMessage: string, options: { cause?: unknown; revertName?: string; revertArgs?: readonly unknown[]; details?: string }) {
    super(shortMessage, { cause: options.cause, details: options.details ?? (options.revertName ? `reverted with ${options.revertName}(${(options.revertArgs ?? []).join(", ")})` : undefined) });
    this.revertName = options.revertName;
    this.revertArgs = options.revertArgs;
  }
}

/**
 * `Cannot <what>: InvalidTokenLimits(inputTokens=601, maxOutputTokens=8, context=512).` — the
 * contract's custom error with every field named from the ABI, and what it means where
 * explainRevert knows; any other failure keeps its cause.
 */
export function toTransactionError(what: string, err: unknown): TransactionError {
  if (err instanceof TransactionError) return err;
  const revert = decodeRevert(err);
  if (revert) {
    const explained = explainRevert(revert);
    return new TransactionError(`Cannot ${what}: ${formatRevert(revert)}.`, { cause: err, revertName: revert.name, revertArgs: revert.args, ...(explained ? { details: explained } : {}) });
  }
  return new TransactionError(`Cannot ${what}.`, { cause: err });
}

export type SendParameters = {
  address: `0x${string}`;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  /** Describes the action in errors, e.g. "finalize job 7". */
  what: string;
};

/**
 * Simulate, then send, then wait for the receipt. Simulating first turns a revert into a
 * typed error naming the contract's custom error, and sends nothing. The simulation's return
 * value is deliberately not returned: it describes the chain before any concurrent transaction
 * landed, so ids and counts must be read from the receipt's events.
 */
export async function sendContractTransaction(clients: StepproofClients, p: SendParameters): Promise<{ hash: Hash; receipt: TransactionReceipt }> {
  const wallet = clients.walletClient;
  if (!wallet) throw new StepproofError(`Cannot ${p.what}: no signing account configured.`);
  try {
    const { request } = await clients.publicClient.simulateContract({
      account: wallet.account,
      address: p.address,
      abi: withSuiteErrors(p.abi),
      functionName: p.functionName,
      args: p.args,
      // The block the transaction will be mined in, not the last one: a rule keyed to the block
      // number (no challenge in a job's commit block, PROTOCOL §9.1) is judged as it will be.
      blockTag: "pending",
    } as Parameters<typeof clients.publicClient.simulateContract>[0]);
    const hash = await wallet.writeContract(request as Parameters<typeof wallet.writeContract>[0]);
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new TransactionError(`${p.what}: transaction ${hash} reverted.`, {});
    return { hash, receipt };
  } catch (err) {
    throw toTransactionError(p.what, err);
  }
}
