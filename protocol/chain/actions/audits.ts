import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";
import { auditManagerAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** AuditManager.AuditState (PROTOCOL §9.1). */
export const AuditState = {
  None: 0,
  Pending: 1,
  Unaudited: 2,
  NoAuditor: 3,
  Lapsed: 4,
  Assigned: 5,
  Agreed: 6,
  Disputed: 7,
  Missed: 8,
  Paid: 9,
} as const;
export type AuditStateName = keyof typeof AuditState;
export const auditStateName = (state: number): AuditStateName =>
  (Object.keys(AuditState) as AuditStateName[]).find((k) => AuditState[k] === state) ?? "None";

/** What a job's audit asks of its auditor (AuditManager.assignment, PROTOCOL §9.1). */
export type AuditAssignment = {
  state: number;
  auditor: Address;
  deadline: bigint;
  /** Block boundaries of 0..L to re-execute over every position. */
  boundaries: number[];
  /** The head step (every output token re-derived) is always part of an audit. */
  head: boolean;
  probe: { boundary: number; row: number; chunk: number };
};

const manager = (clients: StepproofClients) => clients.deployment.contracts.auditManager;

/** The job's assignment as it stands, or as its draw will be fixed (a view: no transaction). */
export async function readAssignment(clients: StepproofClients, jobId: bigint): Promise<AuditAssignment> {
  // In the pending block the commit block's hash is known: the draw can be read as soon as the
  // commit is mined, without waiting for another block.
  const a = await clients.publicClient.readContract({ address: manager(clients), abi: auditManagerAbi, functionName: "assignment", args: [jobId], blockTag: "pending" });
  return {
    state: a.state,
    auditor: a.auditor,
    deadline: a.deadline,
    boundaries: a.boundaries.map(Number),
    head: a.head,
    probe: { boundary: a.probeBoundary, row: a.probeRow, chunk: a.probeChunk },
  };
}

/**
 * Join the audit pools of `modelIds` (the first join locks the audit bond). Idempotent: pools
 * the signer is already an active member of are skipped.
 */
export async function joinAuditPools(clients: StepproofClients, modelIds: readonly Hex[]): Promise<Hex[]> {
  const me = clients.walletClient?.account.address;
  if (!me) throw new Error("joinAuditPools needs a signing account");
  const joined: Hex[] = [];
  for (const modelId of modelIds) {
    const member = await clients.publicClient.readContract({ address: manager(clients), abi: auditManagerAbi, functionName: "isActiveMember", args: [modelId, me] });
    if (member) continue;
    await sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "joinPool", args: [modelId], what: `join the audit pool of model ${modelId}` });
    joined.push(modelId);
  }
  return joined;
}

/** Fix a job's draw while its seed block's hash is available (PROTOCOL §9.1). */
export async function fixDraw(clients: StepproofClients, jobId: bigint) {
  return sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "fixDraw", args: [jobId], what: `fix the audit draw of job ${jobId}` });
}

/** A job's stored audit record (state, auditor, deadline, pay, vesting time; PROTOCOL §9.1–§9.2). */
export async function readAudit(clients: StepproofClients, jobId: bigint) {
  return clients.publicClient.readContract({ address: manager(clients), abi: auditManagerAbi, functionName: "getAudit", args: [jobId] });
}

/** Record an assigned auditor's miss once its deadline passed unanswered (PROTOCOL §9.2). */
export async function recordMiss(clients: StepproofClients, p: { jobId: bigint; auditor: Address }) {
  return sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "recordMiss", args: [p.jobId], what: `record auditor ${p.auditor}'s miss on job ${p.jobId}` });
}

/** The assigned auditor agrees, proving it obtained the trace with the probe leaf. */
export async function reportAudit(clients: StepproofClients, p: { jobId: bigint; chunk: Hex; proof: readonly Hex[] }) {
  return sendContractTransaction(clients, {
    address: manager(clients),
    abi: auditManagerAbi,
    functionName: "reportAudit",
    args: [p.jobId, p.chunk, p.proof],
    what: `report the audit of job ${p.jobId}`,
  });
}

/** Claim the vested pay of agreed audits. */
export async function claimAuditPay(clients: StepproofClients, jobIds: readonly bigint[]) {
  return sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "claimAuditPay", args: [jobIds], what: `claim the pay of ${jobIds.length} audits` });
}

/** The commitment to a canary prover: keccak256(abi.encode(prover, salt)) (PROTOCOL §9.3). */
export function canaryCommitment(prover: Address, salt: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [prover, salt]));
}

/** The canary role commits to a canary prover before its canary jobs' results (PROTOCOL §9.3). */
export async function commitCanary(clients: StepproofClients, commitment: Hex) {
  return sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "commitCanary", args: [commitment], what: "commit to a canary" });
}

/** The canary prover reveals one of its jobs: an auditor that approved it is slashed and ejected. */
export async function exposeCanary(clients: StepproofClients, p: { jobId: bigint; salt: Hex }) {
  return sendContractTransaction(clients, { address: manager(clients), abi: auditManagerAbi, functionName: "exposeCanary", args: [p.jobId, p.salt], what: `expose canary job ${p.jobId}` });
}

/** The protocol's probability of catching one corrupted step of a job of the model (PROTOCOL §9.1). */
export async function readDetectionProbability(clients: StepproofClients, modelId: Hex): Promise<number> {
  const [num, den] = await clients.publicClient.readContract({ address: manager(clients), abi: auditManagerAbi, functionName: "detectionProbability", args: [modelId] });
  return Number(num) / Number(den);
}
