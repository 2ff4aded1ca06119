import { maxUint256 } from "viem";
import { nodeRegistryAbi, testTokenAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

export type StakeMoreParameters = { amount: bigint };

/** Add stake to a registered node (NodeRegistry.topUp), approving the registry when short. */
export async function stakeMore(clients: StepproofClients, p: StakeMoreParameters): Promise<void> {
  const { nodeRegistry, token } = clients.deployment.contracts;
  const who = clients.walletClient?.account.address;
  if (!who) throw new Error("stakeMore needs a signing account");
  const allowance = await clients.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: "allowance", args: [who, nodeRegistry] });
  if (allowance < p.amount) {
    await sendContractTransaction(clients, { address: token, abi: testTokenAbi, functionName: "approve", args: [nodeRegistry, maxUint256], what: "approve the node registry" });
  }
  await sendContractTransaction(clients, { address: nodeRegistry, abi: nodeRegistryAbi, functionName: "topUp", args: [p.amount], what: `add ${p.amount} to the stake` });
}
