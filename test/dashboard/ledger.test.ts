import type { Address, Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { ChainEvent, WatchedContract } from "../../dashboard/indexer/events.js";
import { AvailabilityStatus, DisputePhase, Ledger } from "../../dashboard/indexer/ledger.js";
import { cumulativeSeries } from "../../dashboard/snapshot/series.js";
import { AuditState } from "../../protocol/chain/actions/audits.js";
import { JobStatus } from "../../protocol/chain/contracts.js";

const PROVER = "0x00000000000000000000000000000000000000a1" as Address;
const CLIENT = "0x00000000000000000000000000000000000000c1" as Address;
const VERIFIER = "0x00000000000000000000000000000000000000b1" as Address;
const MODEL = `0x${"11".repeat(32)}` as Hex;
const DISPUTE = `0x${"d1".repeat(32)}` as Hex;
const CHALLENGE = `0x${"d2".repeat(32)}` as Hex;

/** Events in order, one block each, 12 s apart. */
function fold(events: [WatchedContract, string, Record<string, unknown>][]): Ledger {
  const ledger = new Ledger();
  events.forEach(([contract, name, args], i) => ledger.apply({ contract, name, args, blockNumber: BigInt(10 + i), logIndex: 0, time: BigInt(1_000 + 12 * i) } satisfies ChainEvent));
  return ledger;
}

const opened = (jobId: bigint): [WatchedContract, string, Record<string, unknown>] => ["jobEscrow", "JobOpened", { jobId, client: CLIENT, prover: PROVER, modelId: MODEL, inputTokens: 10n, escrowed: 100n, collateral: 50n, commitDeadline: 2_000n }];
const committed = (jobId: bigint): [WatchedContract, string, Record<string, unknown>] => ["jobEscrow", "ResultCommitted", { jobId, traceRoot: `0x${"ab".repeat(32)}`, outputRoot: `0x${"cd".repeat(32)}`, outputTokens: 5n, challengeDeadline: 5_000n }];

/**
 * The dashboard's ledger folds the chain's events into what the page lists: here a served and
 * paid job, and a cheating job caught by a step dispute (fraud proven, job slashed, reward
 * paid) after a failed availability challenge, with the auditor's record.
 */
describe("dashboard ledger", () => {
  const ledger = fold([
    ["modelRegistry", "ModelRegistered", { modelId: MODEL }],
    ["nodeRegistry", "NodeRegistered", { node: PROVER, role: 1n, stake: 500n, endpoint: "http://p" }],
    ["nodeRegistry", "OfferSet", { prover: PROVER, modelId: MODEL, inputPrice: 2n, outputPrice: 8n }],
    ["nodeRegistry", "NodeRegistered", { node: VERIFIER, role: 2n, stake: 100n, endpoint: "http://v" }],
    ["auditManager", "PoolJoined", { modelId: MODEL, verifier: VERIFIER, activeMembers: 1n }],
    opened(1n),
    committed(1n),
    ["auditManager", "AuditDrawn", { jobId: 1n, state: BigInt(AuditState.Assigned), auditor: VERIFIER, deadline: 3_000n }],
    ["auditManager", "AuditReported", { jobId: 1n, auditor: VERIFIER, pay: 3n, vestsAt: 9_000n }],
    ["jobEscrow", "JobFinalized", { jobId: 1n, proverPaid: 55n, fee: 2n, clientRefund: 40n, auditFee: 3n }],
    opened(2n),
    committed(2n),
    ["traceAvailability", "AvailabilityChallenged", { challengeId: CHALLENGE, jobId: 2n, challenger: VERIFIER, leaves: [], fees: 4n, deadline: 4_000n }],
    ["traceAvailability", "AvailabilityAnswered", { challengeId: CHALLENGE, jobId: 2n }],
    ["stepProofGame", "DisputeOpened", { disputeId: DISPUTE, jobId: 2n, challenger: VERIFIER, position: 3n, layer: 2n, bond: 7n }],
    ["jobEscrow", "JobDisputeOpened", { jobId: 2n, seq: 1n, challenger: VERIFIER, openDisputes: 1n }],
    ["stepProofGame", "StepRootPosted", { disputeId: DISPUTE }],
    ["stepProofGame", "FraudProven", { disputeId: DISPUTE, tensor: 1n, row: 3n, col: 5n, op: 4n, claimed: 900n, ref: 100n, bound: 10n }],
    ["stepProofGame", "DisputeResolved", { disputeId: DISPUTE, jobId: 2n, proverAtFault: true }],
    ["jobEscrow", "JobDisputeResolved", { jobId: 2n, seq: 1n, proverAtFault: true, openDisputes: 0n }],
    ["nodeRegistry", "StakeSlashed", { node: PROVER, to: VERIFIER, fromLocked: 50n, fromFree: 10n, fromUnbonding: 0n, jailedUntil: 99_999n }],
    ["jobEscrow", "JobSlashed", { jobId: 2n, prover: PROVER, slashed: 60n, reward: 30n, clientRefund: 100n, jailedUntil: 99_999n }],
    ["jobEscrow", "SlashRewardPaid", { jobId: 2n, challenger: VERIFIER, seq: 1n, reward: 30n }],
  ]);

  it("follows a job from open to finalized, with its split and its audit", () => {
    const job = ledger.jobs.get(1n)!;
    expect(job.status).toBe(JobStatus.Finalized);
    expect(job.paid).toEqual({ cost: 60n, proverPaid: 55n, fee: 2n, auditFee: 3n, clientRefund: 40n });
    expect(job.audit).toMatchObject({ state: AuditState.Agreed, auditor: VERIFIER, pay: 3n });
  });

  it("records the disputes of a slashed job with their outcome and what decided them", () => {
    expect(ledger.jobs.get(2n)).toMatchObject({ status: JobStatus.Slashed, openDisputes: 0, slash: { slashed: 60n, reward: 30n, jailedUntil: 99_999n }, refund: 100n });
    expect(ledger.jobs.get(2n)!.disputes).toEqual([CHALLENGE.toLowerCase(), DISPUTE.toLowerCase()]);
    expect(ledger.disputes.get(CHALLENGE.toLowerCase())).toMatchObject({ kind: "availability", phase: AvailabilityStatus.Answered, stake: 4n, detail: "the prover published the demanded leaves" });
    const step = ledger.disputes.get(DISPUTE.toLowerCase())!;
    expect(step).toMatchObject({ kind: "step", position: 3, layer: 2, stake: 7n, phase: DisputePhase.ChallengerWon, prover: PROVER, resolvedAt: expect.any(BigInt) });
    expect(step.detail).toMatch(/claimed 900, exact 100, bound 10/);
  });

  it("keeps each node's record and the network totals", () => {
    const p = ledger.provers.get(PROVER.toLowerCase())!;
    expect(p).toMatchObject({ endpoint: "http://p", jobsOpened: 2, jobsServed: 2, jobsFinalized: 1, jobsSlashed: 1, tokensServed: 30n, earned: 55n, slashed: 60n, disputesWon: 1, disputesLost: 1 });
    expect(p.offers.get(MODEL.toLowerCase())).toEqual({ inputPrice: 2n, outputPrice: 8n, active: true });
    const v = ledger.verifiers.get(VERIFIER.toLowerCase())!;
    expect(v).toMatchObject({ registered: true, auditsAssigned: 1, auditsReported: 1, auditPayReserved: 3n, slashRewards: 30n, disputesOpened: 2, disputesWon: 1 });
    expect([...v.pools]).toEqual([MODEL.toLowerCase()]);
    expect(ledger.models.get(MODEL.toLowerCase())?.poolSize).toBe(1);
    expect(ledger.totals).toMatchObject({ tokensIn: 20n, tokensOut: 10n, proverPaid: 55n, fees: 2n, auditFees: 3n, slashed: 60n, slashRewards: 30n, clientRefunds: 140n });
  });

  it("charts running totals that end at the totals", () => {
    const series = cumulativeSeries(ledger.series, 10_000n);
    expect(series.at(-1)).toMatchObject({ t: 10_000, tokensIn: 20, tokensOut: 10, proverPaid: "55", slashed: "60" });
    const bucketed = cumulativeSeries(ledger.series, 10_000n, 3);
    expect(bucketed.length).toBeLessThanOrEqual(4);
    expect(bucketed.at(-1)).toMatchObject({ tokensIn: 20, slashed: "60" });
  });
});
