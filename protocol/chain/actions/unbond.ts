import { nodeRegistryAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** Request (amount) or, once the delay passed, withdraw (no amount) unbonding stake. */
export type UnbondParameters = { action: "request"; amount: bigint } | { action: "withdraw" };

/**
 * NodeRegistry.requestUnbond / withdrawUnbonded (PROTOCOL §5.2). A request restarts the delay
 * for everything already unbonding, which is why the two are separate explicit actions.
 */
export async function unbond(clients: StepproofClients, p: UnbondParameters): Promise<void> {
  const address = clients.deployment.contracts.nodeRegistry;
  if (p.action === "request") {
    await sendContractTransaction(clients, { address, abi: nodeRegistryAbi, functionName: "requestUnbond", args: [p.amount], what: `unbond ${p.amount}` });
  } else {
    await sendContractTransaction(clients, { address, abi: nodeRegistryAbi, functionName: "withdrawUnbonded", args: [], what: "withdraw unbonded stake" });
  }
}
