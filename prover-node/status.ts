import { existsSync } from "node:fs";
import path from "node:path";
import { formatEther, type Address, type Hex } from "viem";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi, voucherEscrowAbi } from "../protocol/chain/generated/abi.js";
import { readDetectionProbability } from "../protocol/chain/actions/audits.js";
import { readProverCapacity } from "../protocol/chain/actions/readProverCapacity.js";
import { readProverEarnings, type ProverEarnings } from "../protocol/chain/actions/readProverEarnings.js";
import { connectStepproof, type StepproofClients } from "../protocol/chain/client.js";
import { readManifest } from "../runtime/model/manifest.js";
import type { ProverConfig } from "./config.js";
import { ProverDb } from "./state/db.js";
import { VoucherJobs } from "./state/voucher-jobs.js";

const iso = (t: bigint) => (t ? new Date(Number(t) * 1000).toISOString() : null);

/**
 * What `stepproof-prover status` prints: stake and its locks, the deterrence limit, jail and the
 * protocol's detection probability (PROTOCOL §9.1, §9.4), where the money stands (earned,
 * pending, credits, withdrawn, slashed), and the local node's jobs. Read-only: the address comes
 * from the keystore file's `address` field or a flag, so no password is asked for.
 */
export async function readProverStatus(config: ProverConfig, address: Address) {
  const clients = await connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}) });
  const { nodeRegistry, jobEscrow, auditManager } = clients.deployment.contracts;
  const manifest = await readManifest(config.model.dir);
  const modelId = manifest.modelId as Hex;
  const read = clients.publicClient.readContract;
  const node = await read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [address] });
  const offer = await read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getOffer", args: [address, modelId] });
  const exposure = await read({ address: jobEscrow, abi: jobEscrowAbi, functionName: "exposure", args: [address] });
  const free = node.stake - node.locked;
  // PROTOCOL §9.4: the escrow of open jobs this stake deters cheating on (reverts with no auditors).
  const exposureLimit = await read({ address: auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [modelId, free] }).catch(() => null);
  // What caps new jobs now (PROTOCOL §5.7): free stake for collateral, and the escrow it deters.
  const capacity = await readProverCapacity(clients, { prover: address, modelId });
  const money: ProverEarnings = await readProverEarnings(clients, { prover: address });
  // The local database only if the node ever ran here: a status command creates nothing.
  let local: { jobs: Record<string, number>; voucherJobs?: Record<string, number>; voucherBatches?: Record<string, number>; lastTickBlock: string | null } | null = null;
  if (existsSync(path.join(config.dataDir, "prover.sqlite"))) {
    const db = new ProverDb(config.dataDir);
    local = { jobs: db.countByState(), lastTickBlock: db.getCursor("lastTickBlock") ?? null };
    if (config.vouchers.enabled) {
      const vouchers = new VoucherJobs(db.db);
      local.voucherJobs = vouchers.countByState();
      local.voucherBatches = vouchers.countBatchesByState();
    }
    db.close();
  }
  const vouchers = await readVoucherStanding(clients, address);
  return {
    address,
    registered: node.role === 1,
    endpoint: node.endpoint,
    model: modelId,
    offer: offer.active ? { inputPrice: formatEther(offer.inputPrice), outputPrice: formatEther(offer.outputPrice) } : null,
    stake: formatEther(node.stake),
    locked: formatEther(node.locked),
    freeStake: formatEther(free),
    maxJobEscrow: capacity.maxJobEscrow === 0n ? "0: no job fits until open jobs settle or more is staked (PROTOCOL §5.7)" : formatEther(capacity.maxJobEscrow),
    unbonding: formatEther(node.unbonding),
    unbondingReadyAt: iso(node.unbondingReadyAt),
    jailedUntil: iso(node.jailedUntil),
    exposure: formatEther(exposure),
    exposureLimit: exposureLimit === null ? "no auditors in the model's pool: no job can open" : formatEther(exposureLimit),
    // PROTOCOL §9.1: the protocol's probability of catching one corrupted step of a job.
    detectionProbability: await readDetectionProbability(clients, modelId),
    earned: formatEther(money.earned),
    pending: formatEther(money.pending),
    credits: formatEther(money.credits),
    withdrawn: formatEther(money.withdrawn),
    slashed: formatEther(money.slashed),
    jobs: money.jobs,
    vouchers,
    node: local,
  };
}

export type ProverStatus = Awaited<ReturnType<typeof readProverStatus>>;

/** One `name  value` line per field, with what each money field means. */
export function formatProverStatus(s: ProverStatus): string {
  const notes: Partial<Record<keyof ProverStatus, string>> = {
    earned: "credited by finalized jobs, fees deducted",
    pending: "what committed jobs credit when finalized, after their challenge window",
    credits: "credited, not yet withdrawn (the node withdraws each tick)",
    withdrawn: "sent to the wallet",
    slashed: "stake lost to proven fraud or missed commits",
    exposureLimit: "most open escrow this free stake deters cheating on (PROTOCOL §9.4)",
    detectionProbability: "chance the protocol's audits catch one corrupted step of a job (§9.1)",
    vouchers: "batches (§5.8): reserve and what live batches and published vouchers hold of it, unclaimed batch charges, claimed pay not withdrawn",
  };
  return Object.entries(s)
    .map(([k, v]) => {
      const value = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
      const note = notes[k as keyof ProverStatus];
      return `${k.padEnd(21)} ${value}${note ? `   # ${note}` : ""}`;
    })
    .join("\n");
}

/** The prover's standing on the voucher path (PROTOCOL §5.8), or null on a deployment without it. */
async function readVoucherStanding(clients: StepproofClients, address: Address) {
  const { voucherEscrow, voucherPublication } = clients.deployment.contracts;
  if (!voucherEscrow) return null;
  const read = clients.publicClient.readContract;
  const reserve = await read({ address: voucherEscrow, abi: voucherEscrowAbi, functionName: "reserveOf", args: [address] });
  const book = await read({ address: voucherEscrow, abi: voucherEscrowAbi, functionName: "book", args: [address] });
  return {
    reserved: formatEther(reserve.reserved),
    held: formatEther(reserve.held),
    idle: formatEther(reserve.reserved - reserve.held),
    unclaimed: formatEther(book.exposure),
    earnedNotWithdrawn: formatEther(book.earned),
    publicationsDeployed: voucherPublication !== undefined,
  };
}
