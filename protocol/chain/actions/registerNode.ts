import { maxUint256, type Hex } from "viem";
import { nodeRegistryAbi, testTokenAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";
import { joinAuditPools } from "./audits.js";

export type RegisterNodeParameters = {
  role: "prover" | "verifier";
  stake: bigint;
  endpoint: string;
  /** Provers: the models served and their prices per input and output token. */
  offers?: readonly { modelId: Hex; inputPrice: bigint; outputPrice: bigint }[];
  /** Verifiers: the models whose audit pools to join (PROTOCOL §9.1; the first locks the audit bond). */
  auditPools?: readonly Hex[];
};

/**
 * Register the signer as a node (approve, register, publish offers, join audit pools).
 * Idempotent: an already registered node only (re)publishes its offers and joins the pools it is
 * not in yet, so rerunning after a crash is safe.
 */
export async function registerNode(clients: StepproofClients, p: RegisterNodeParameters): Promise<void> {
  const { nodeRegistry, token } = clients.deployment.contracts;
  const who = clients.walletClient?.account.address;
  if (!who) throw new Error("registerNode needs a signing account");
  const node = await clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [who] });
  if (node.role === 0) {
    const allowance = await clients.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: "allowance", args: [who, nodeRegistry] });
    if (allowance < p.stake) {
      await sendContractTransaction(clients, { address: token, abi: testTokenAbi, functionName: "approve", args: [nodeRegistry, maxUint256], what: "approve the node registry" });
    }
    await sendContractTransaction(clients, {
      address: nodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "register",
      args: [p.role === "prover" ? 1 : 2, p.stake, p.endpoint],
      what: `register as ${p.role}`,
    });
  }
  for (const offer of p.offers ?? []) {
    await sendContractTransaction(clients, {
      address: nodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "setOffer",
      args: [offer.modelId, offer.inputPrice, offer.outputPrice],
      what: `set the offer for model ${offer.modelId}`,
    });
  }
  if (p.auditPools?.length) await joinAuditPools(clients, p.auditPools);
}
