import { BaseError, ContractFunctionRevertedError, formatEther, type AbiParameter } from "viem";

/** A contract's custom error as decoded against its ABI: the name, the arguments and their ABI names. */
export type DecodedRevert = {
  name: string;
  args: readonly unknown[];
  /** One per argument, in order; `name` is the ABI's parameter name (`arg<i>` where the ABI has none). */
  fields: readonly { name: string; type: string; value: unknown }[];
};

/**
 * The custom error a failed call or simulation reverted with, found anywhere in viem's cause
 * chain; undefined for any other failure (an RPC outage, a revert the ABI cannot decode).
 */
export function decodeRevert(err: unknown): DecodedRevert | undefined {
  if (!(err instanceof BaseError)) return undefined;
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(revert instanceof ContractFunctionRevertedError) || !revert.data) return undefined;
  const args = revert.data.args ?? [];
  const inputs: readonly AbiParameter[] = "inputs" in revert.data.abiItem ? revert.data.abiItem.inputs : [];
  // viem may append a trailing underscore to names that shadow Solidity keywords (`now_`).
  const fields = args.map((value, i) => ({ name: (inputs[i]?.name || `arg${i}`).replace(/_$/, ""), type: inputs[i]?.type ?? "unknown", value }));
  return { name: revert.data.errorName, args, fields };
}

/** `InvalidTokenLimits(inputTokens=601, maxOutputTokens=8, context=512)`: every number named. */
export function formatRevert(r: DecodedRevert): string {
  return `${r.name}(${r.fields.map((f) => `${f.name}=${formatValue(f.value)}`).join(", ")})`;
}

function formatValue(v: unknown): string {
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return v;
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

const tokens = (v: unknown) => (typeof v === "bigint" ? `${formatEther(v)} tokens` : String(v));
const time = (v: unknown) => (typeof v === "bigint" && v > 0n ? new Date(Number(v) * 1000).toISOString() : String(v));

/**
 * What the commonest reverts mean for whoever sent the transaction, from the error's own
 * fields (amounts in whole tokens of 18 decimals, times as dates). The formatter above names
 * every field of every error; these add the sentence an operator needs for the ones met first.
 */
const EXPLAIN: Record<string, (f: Record<string, unknown>) => string> = {
  InvalidTokenLimits: (f) => `a job needs at least one prompt and one output token, and inputTokens + maxOutputTokens (${f["inputTokens"]} + ${f["maxOutputTokens"]}) at most the model's context of ${f["context"]} tokens`,
  ModelUnknown: (f) => `model ${f["modelId"]} is not registered in the ModelRegistry: a holder of REGISTRAR_ROLE registers it first, after calibrating it (\`npm run model:register -- <model dir> --keystore <registrar keystore>\`; on a dev chain \`--dev\`)`,
  NoAuditors: (f) => `no verifier is in the audit pool of model ${f["modelId"]}, so no job can open: a verifier joins it with \`npm run verifier -- register\``,
  InsufficientDeterrence: (f) => `the prover's open escrow would be ${tokens(f["exposure"])}, over the ${tokens(f["limit"])} its free stake deters cheating on (PROTOCOL §9.4): it must stake more or settle jobs first`,
  Jailed: (f) => `node ${f["node"]} is jailed for proven fraud until ${time(f["until"])}`,
  StakeTooLow: (f) => `node ${f["node"]} stakes ${tokens(f["have"])}; at least ${tokens(f["need"])} is needed`,
  InsufficientFreeStake: (f) => `node ${f["node"]} has ${tokens(f["free"])} of free stake; ${tokens(f["need"])} is needed`,
  ChallengeWindowOpen: (f) => `job ${f["jobId"]}'s challenge window is open until ${time(f["challengeDeadline"])}; it can be finalized after that (on a dev chain: \`npm run devnet -- advance 1h\`)`,
  UnbondingNotReady: (f) => `the unbonding stake of ${f["node"]} is ready at ${time(f["readyAt"])}`,
  PriceMismatch: () => "the prover changed its prices since they were read; try again",
  AccessControlUnauthorizedAccount: (f) => `account ${f["account"]} lacks the role ${f["neededRole"]} this call needs`,
};

/** The sentence EXPLAIN has for this revert, if any. */
export function explainRevert(r: DecodedRevert): string | undefined {
  const explain = EXPLAIN[r.name];
  return explain?.(Object.fromEntries(r.fields.map((f) => [f.name, f.value])));
}
