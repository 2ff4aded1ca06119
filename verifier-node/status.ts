import { existsSync } from "node:fs";
import path from "node:path";
import { formatEther, type Abi, type Address, type Hex } from "viem";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { readDetectionProbability } from "../protocol/chain/actions/audits.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { getEventsInRanges } from "../protocol/chain/event-ranges.js";
import { readManifest } from "../runtime/model/manifest.js";
import type { VerifierConfig } from "./config.js";
import { detectionProbability } from "./sampling.js";
import { sustainableJobsPerMinute } from "./node.js";
import { VerifierState } from "./state.js";

const sum = (logs: { args: Record<string, unknown> }[], field: string) => logs.reduce((s, l) => s + (l.args[field] as bigint), 0n);

/**
 * What `stepproof-verifier status` prints: stake, audit bond and pools, the local node's checked
 * jobs and audits by state, what it was paid (audit pay, slash rewards, credits, withdrawals),
 * and the detection probabilities — the protocol's (PROTOCOL §9.1) and the voluntary policy's
 * (§8). Read-only: the address comes from the keystore file or a flag, no password.
 */
export async function readVerifierStatus(config: VerifierConfig, address: Address) {
  const clients = await connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}) });
  const { nodeRegistry, jobEscrow, auditManager } = clients.deployment.contracts;
  const read = clients.publicClient.readContract;
  const node = await read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [address] });
  const auditor = await read({ address: auditManager, abi: auditManagerAbi, functionName: "getAuditor", args: [address] });
  const models = await Promise.all(config.models.map(async (m) => (await readManifest(m.dir)).modelId as Hex));
  const pools = await Promise.all(models.map((id) => read({ address: auditManager, abi: auditManagerAbi, functionName: "isActiveMember", args: [id, address] })));
  const manifest = await readManifest(config.models[0]!.dir);
  const layers = manifest.architecture.layers;
  const paid = await getEventsInRanges(clients, { address: jobEscrow, abi: jobEscrowAbi as Abi, eventName: "AuditPaid", args: { auditor: address } });
  const rewards = await getEventsInRanges(clients, { address: jobEscrow, abi: jobEscrowAbi as Abi, eventName: "SlashRewardPaid", args: { challenger: address } });
  const withdrawals = await getEventsInRanges(clients, { address: [jobEscrow, nodeRegistry], abi: jobEscrowAbi as Abi, eventName: "CreditWithdrawn", args: { account: address } });
  const credits =
    (await read({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [address] })) + (await read({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [address] }));
  // The local state only if the node ever ran here: a status command creates nothing.
  const file = path.join(config.dataDir, "verifier.sqlite");
  const jobs: Record<string, number> = {};
  const audits: Record<string, number> = {};
  // Whether it keeps up (issue #15): measured check time, backlog, sampled jobs settled unchecked.
  let throughput: { checkMs: number | null; sustainableJobsPerMinute: number | null; backlog: number; settledUnchecked: number } | null = null;
  if (existsSync(file)) {
    const state = new VerifierState(file);
    for (const j of state.all()) jobs[j.state] = (jobs[j.state] ?? 0) + 1;
    const checkMs = state.stat("checkMs");
    throughput = {
      checkMs: checkMs === undefined ? null : Math.round(checkMs),
      sustainableJobsPerMinute: checkMs === undefined ? null : sustainableJobsPerMinute(checkMs, config.sampling.jobFraction),
      backlog: (jobs["new"] ?? 0) + (jobs["error"] ?? 0),
      settledUnchecked: state.settledUnchecked(),
    };
    try {
      for (const a of state.db.prepare("SELECT state, COUNT(*) AS n FROM audits GROUP BY state").all() as { state: string; n: number }[]) audits[a.state] = a.n;
    } catch {
      // No audits table yet: the node never ticked.
    }
    state.close();
  }
  return {
    verifier: address,
    registered: node.role === 2,
    stake: formatEther(node.stake),
    auditBond: formatEther(auditor.bond),
    ejected: auditor.ejectedBlock !== 0,
    auditPools: Object.fromEntries(models.map((id, i) => [id, pools[i] ? "member" : "not a member (run register)"])),
    jobs,
    throughput,
    audits,
    auditPayClaimed: formatEther(sum(paid, "amount")),
    // Reported audits' pay not yet claimed: it vests a day after each report (PROTOCOL §9.2).
    auditPayUnclaimed: formatEther(auditor.unclaimed),
    slashRewards: formatEther(sum(rewards, "reward")),
    credits: formatEther(credits),
    withdrawn: formatEther(sum(withdrawals, "amount")),
    // PROTOCOL §9.1: the protocol's probability of catching one corrupted step of a job.
    protocolDetectionPerCorruptedJob: await readDetectionProbability(clients, manifest.modelId as Hex),
    policy: config.sampling,
    policyDetectionPerCorruptedJob: detectionProbability(config.sampling, layers).perJob,
    policyDetectionOverTenCorruptedJobs: detectionProbability(config.sampling, layers, 10).overJobs,
  };
}
