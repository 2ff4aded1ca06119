import { jobEscrowAbi, nodeRegistryAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

export type WithdrawCreditsReturnType = { fromEscrow: bigint; fromRegistry: bigint };

/**
 * Withdraw everything owed to the signer: payments and refunds (JobEscrow) and slashing
 * rewards or penalties (NodeRegistry). Checks balances first so nothing is sent for zero.
 */
export async function withdrawCredits(clients: StepproofClients): Promise<WithdrawCreditsReturnType> {
  const who = clients.walletClient?.account.address;
  const { jobEscrow, nodeRegistry } = clients.deployment.contracts;
  if (!who) return { fromEscrow: 0n, fromRegistry: 0n };
  const fromEscrow = await clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [who] });
  const fromRegistry = await clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [who] });
  if (fromEscrow > 0n) {
    await sendContractTransaction(clients, { address: jobEscrow, abi: jobEscrowAbi, functionName: "withdraw", args: [], what: "withdraw escrow credits" });
  }
  if (fromRegistry > 0n) {
    await sendContractTransaction(clients, { address: nodeRegistry, abi: nodeRegistryAbi, functionName: "withdrawCredits", args: [], what: "withdraw registry credits" });
  }
  return { fromEscrow, fromRegistry };
}
