import { formatEther, type Address } from "viem";
import { jobEscrowAbi, nodeRegistryAbi, stepProofGameAbi, testTokenAbi } from "../../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../../protocol/chain/client.js";

export type BalanceSheet = { label: string; address: Address; wallet: bigint; escrowCredit: bigint; registryCredit: bigint; stake: bigint }[];

/** Every party's token position: wallet, credits owed by each contract, and stake. */
export async function balanceSheet(clients: StepproofClients, parties: readonly { label: string; address: Address }[]): Promise<BalanceSheet> {
  const c = clients.deployment.contracts;
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  return Promise.all(
    parties.map(async (p) => {
      const [wallet, escrowCredit, registryCredit, node] = await Promise.all([
        read({ address: c.token, abi: testTokenAbi, functionName: "balanceOf", args: [p.address] }),
        read({ address: c.jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [p.address] }),
        read({ address: c.nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [p.address] }),
        read({ address: c.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [p.address] }),
      ]);
      return { ...p, wallet, escrowCredit, registryCredit, stake: node.stake + node.unbonding };
    }),
  );
}

export type SolvencyReport = { contract: string; holds: bigint; owes: bigint; ok: boolean }[];

/** PROTOCOL §5.1, §7.4 and §9.2: what each custodial contract holds equals what it owes. */
export async function solvency(clients: StepproofClients): Promise<SolvencyReport> {
  const c = clients.deployment.contracts;
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  const bal = (a: Address) => read({ address: c.token, abi: testTokenAbi, functionName: "balanceOf", args: [a] });
  const [escrowHolds, escrowed, escrowCredits, auditPool, registryHolds, staked, unbonding, registryCredits, gameHolds] = await Promise.all([
    bal(c.jobEscrow),
    read({ address: c.jobEscrow, abi: jobEscrowAbi, functionName: "totalEscrowed" }),
    read({ address: c.jobEscrow, abi: jobEscrowAbi, functionName: "totalCredits" }),
    read({ address: c.jobEscrow, abi: jobEscrowAbi, functionName: "auditPool" }),
    bal(c.nodeRegistry),
    read({ address: c.nodeRegistry, abi: nodeRegistryAbi, functionName: "totalStaked" }),
    read({ address: c.nodeRegistry, abi: nodeRegistryAbi, functionName: "totalUnbonding" }),
    read({ address: c.nodeRegistry, abi: nodeRegistryAbi, functionName: "totalCredits" }),
    bal(c.stepProofGame),
  ]);
  const gameOwes = await gameLiabilities(clients);
  return [
    // The audit pool is owed to future auditors (PROTOCOL §9.2).
    { contract: "JobEscrow", holds: escrowHolds, owes: escrowed + escrowCredits + auditPool, ok: escrowHolds === escrowed + escrowCredits + auditPool },
    { contract: "NodeRegistry", holds: registryHolds, owes: staked + unbonding + registryCredits, ok: registryHolds === staked + unbonding + registryCredits },
    { contract: "StepProofGame", holds: gameHolds, owes: gameOwes, ok: gameHolds === gameOwes },
  ];
}

/** StepProofGame owes the bonds of live disputes, the escrowed demand fees and its credits (PROTOCOL §7.4). */
async function gameLiabilities(clients: StepproofClients): Promise<bigint> {
  const address = clients.deployment.contracts.stepProofGame;
  const [bonds, fees, credits] = await Promise.all([
    clients.publicClient.readContract({ address, abi: stepProofGameAbi, functionName: "bondsHeld" }),
    clients.publicClient.readContract({ address, abi: stepProofGameAbi, functionName: "feesHeld" }),
    clients.publicClient.readContract({ address, abi: stepProofGameAbi, functionName: "totalCredits" }),
  ]);
  return bonds + fees + credits;
}

export const fmt = (v: bigint): string => Number(formatEther(v)).toFixed(6);
