import { formatEther, type Address } from "viem";
import { batchCourtAbi, jobEscrowAbi, nodeRegistryAbi, stepProofGameAbi, testTokenAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
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

/**
 * PROTOCOL §5.1, §7.4, §9.2 and §5.8: what each custodial contract holds equals what it owes.
 * The voucher escrow's deposits are summed over `vouchers` (every client × prover that used it).
 */
export async function solvency(clients: StepproofClients, vouchers?: { clients: readonly Address[]; provers: readonly Address[] }): Promise<SolvencyReport> {
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
  const voucherRows = vouchers && c.voucherEscrow && c.batchCourt ? await voucherLiabilities(clients, vouchers) : [];
  return [
    ...voucherRows,
    // The audit pool is owed to future auditors (PROTOCOL §9.2).
    { contract: "JobEscrow", holds: escrowHolds, owes: escrowed + escrowCredits + auditPool, ok: escrowHolds === escrowed + escrowCredits + auditPool },
    { contract: "NodeRegistry", holds: registryHolds, owes: staked + unbonding + registryCredits, ok: registryHolds === staked + unbonding + registryCredits },
    { contract: "StepProofGame", holds: gameHolds, owes: gameOwes, ok: gameHolds === gameOwes },
  ];
}

/** VoucherEscrow owes deposits, unclaimed batches, earnings, fees and credits; BatchCourt its held challenge fees and credits (§5.8). */
async function voucherLiabilities(clients: StepproofClients, v: { clients: readonly Address[]; provers: readonly Address[] }): Promise<SolvencyReport> {
  const c = clients.deployment.contracts;
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  let owes = await read({ address: c.voucherEscrow!, abi: voucherEscrowAbi, functionName: "totalCredits" });
  const fees = await read({ address: c.voucherEscrow!, abi: voucherEscrowAbi, functionName: "feeBook" });
  owes += fees.fees + fees.auditFees;
  for (const prover of v.provers) {
    const book = await read({ address: c.voucherEscrow!, abi: voucherEscrowAbi, functionName: "book", args: [prover] });
    owes += book.exposure + book.earned;
    for (const client of v.clients) owes += (await read({ address: c.voucherEscrow!, abi: voucherEscrowAbi, functionName: "account", args: [client, prover] })).balance;
  }
  const holds = await read({ address: c.token, abi: testTokenAbi, functionName: "balanceOf", args: [c.voucherEscrow!] });
  const courtHolds = await read({ address: c.token, abi: testTokenAbi, functionName: "balanceOf", args: [c.batchCourt!] });
  const courtOwes = (await read({ address: c.batchCourt!, abi: batchCourtAbi, functionName: "challengeFeesHeld" })) + (await read({ address: c.batchCourt!, abi: batchCourtAbi, functionName: "totalCredits" }));
  return [
    { contract: "VoucherEscrow", holds, owes, ok: holds === owes },
    { contract: "BatchCourt", holds: courtHolds, owes: courtOwes, ok: courtHolds === courtOwes },
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
