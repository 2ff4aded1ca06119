import type { Address, Hex } from "viem";
import { AuditState } from "../../protocol/chain/actions/audits.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import type { ChainEvent } from "./events.js";

/**
 * What the chain's logs say about a deployment, folded event by event: the history a page needs
 * (jobs, disputes, audits, who earned what, when) that no view function returns. Current values
 * a view does return (stake, free stake, exposure, balances) are read from state when a snapshot
 * is built, never reconstructed here.
 */

export type ProverRecord = {
  address: Address;
  endpoint: string;
  registeredBlock: bigint;
  /** Offers by model id (lower-case hex); removed offers stay, inactive. */
  offers: Map<string, { inputPrice: bigint; outputPrice: bigint; active: boolean }>;
  jobsOpened: number;
  /** Results committed: the jobs it served. */
  jobsServed: number;
  jobsFinalized: number;
  jobsSlashed: number;
  tokensServed: bigint;
  /** Σ proverPaid of its finalized jobs (after fees). */
  earned: bigint;
  /** Σ of every StakeSlashed against it (fraud, missed commits). */
  slashed: bigint;
  disputesWon: number;
  disputesLost: number;
};

export type VerifierRecord = {
  address: Address;
  /** Registered as a verifier (a challenger need not be). */
  registered: boolean;
  endpoint: string;
  pools: Set<string>;
  auditsAssigned: number;
  auditsReported: number;
  auditsDisputed: number;
  auditsMissed: number;
  /** Agreed audits of jobs later exposed as canaries. */
  canariesApproved: number;
  ejected: boolean;
  /** Ejected by a canary (bond and stake slashed), rather than for misses. */
  ejectedSlashed: boolean;
  auditPayReserved: bigint;
  auditPayClaimed: bigint;
  slashRewards: bigint;
  disputesOpened: number;
  disputesWon: number;
};

export type AuditRecord = { state: number; auditor?: Address; deadline?: bigint; pay?: bigint; canary?: boolean };

export type JobRecord = {
  id: bigint;
  client: Address;
  prover: Address;
  modelId: string;
  status: number;
  inputTokens: number;
  outputTokens?: number;
  escrowed: bigint;
  collateral: bigint;
  openedAt: bigint;
  commitDeadline: bigint;
  committedAt?: bigint;
  challengeDeadline?: bigint;
  traceRoot?: Hex;
  settledAt?: bigint;
  /** Finalized: what the client paid and how it was split. */
  paid?: { cost: bigint; proverPaid: bigint; fee: bigint; auditFee: bigint; clientRefund: bigint };
  /** Slashed: the prover's loss, the challenger's reward, the jail. */
  slash?: { slashed: bigint; reward: bigint; jailedUntil: bigint };
  refund?: bigint;
  openDisputes: number;
  disputes: string[];
  audit: AuditRecord;
};

export const DisputePhase = { AwaitingStepRoot: 1, AwaitingProof: 2, AwaitingData: 3, ProverWon: 4, ChallengerWon: 5, Cancelled: 6 } as const;
export const AvailabilityStatus = { Open: 1, Answered: 2, ProverFailed: 3, Cancelled: 4 } as const;

export type DisputeRecord = {
  id: Hex;
  kind: "step" | "availability";
  jobId: bigint;
  challenger: Address;
  prover?: Address;
  /** Step disputes: the disputed step (position t, layer l). */
  position?: number;
  layer?: number;
  /** Bond (step) or leaf fees (availability) the challenger put up. */
  stake: bigint;
  openedAt: bigint;
  /** StepProofGame.Phase or TraceAvailability.Status, by kind. */
  phase: number;
  /** Availability: the prover's answer deadline. Step disputes: read from state while live. */
  deadline?: bigint;
  resolvedAt?: bigint;
  /** What decided it, in words (the fraud the judge found, a timeout). */
  detail?: string;
};

/** Activity of one block: what the charts are drawn from. */
export type SeriesPoint = { block: bigint; time: bigint; tokensIn: bigint; tokensOut: bigint; fee: bigint; auditFee: bigint; proverPaid: bigint; slashed: bigint };

export type Totals = {
  tokensIn: bigint;
  tokensOut: bigint;
  fees: bigint;
  auditFees: bigint;
  proverPaid: bigint;
  clientRefunds: bigint;
  slashed: bigint;
  slashRewards: bigint;
  auditPoolFunded: bigint;
  auditPaid: bigint;
};

export type ModelRecord = { id: string; registeredAt: bigint; auditRateBps?: number; poolSize: number };

const key = (a: unknown) => String(a).toLowerCase();

export class Ledger {
  readonly provers = new Map<string, ProverRecord>();
  readonly verifiers = new Map<string, VerifierRecord>();
  readonly jobs = new Map<bigint, JobRecord>();
  readonly disputes = new Map<string, DisputeRecord>();
  readonly models = new Map<string, ModelRecord>();
  readonly series: SeriesPoint[] = [];
  readonly totals: Totals = { tokensIn: 0n, tokensOut: 0n, fees: 0n, auditFees: 0n, proverPaid: 0n, clientRefunds: 0n, slashed: 0n, slashRewards: 0n, auditPoolFunded: 0n, auditPaid: 0n };
  /** Events applied so far (a count for the status line and tests). */
  events = 0;

  apply(e: ChainEvent): void {
    this.events++;
    const a = e.args;
    switch (`${e.contract}.${e.name}`) {
      case "modelRegistry.ModelRegistered":
        this.models.set(key(a.modelId), { id: key(a.modelId), registeredAt: e.time, poolSize: 0 });
        break;
      case "nodeRegistry.NodeRegistered":
        if (Number(a.role) === 1) this.prover(a.node as Address, e.blockNumber).endpoint = a.endpoint as string;
        else {
          const v = this.verifier(a.node as Address);
          v.registered = true;
          v.endpoint = a.endpoint as string;
        }
        break;
      case "nodeRegistry.EndpointUpdated": {
        const node = this.provers.get(key(a.node)) ?? this.verifiers.get(key(a.node));
        if (node) node.endpoint = a.endpoint as string;
        break;
      }
      case "nodeRegistry.OfferSet":
        this.prover(a.prover as Address, e.blockNumber).offers.set(key(a.modelId), { inputPrice: a.inputPrice as bigint, outputPrice: a.outputPrice as bigint, active: true });
        break;
      case "nodeRegistry.OfferRemoved": {
        const offer = this.provers.get(key(a.prover))?.offers.get(key(a.modelId));
        if (offer) offer.active = false;
        break;
      }
      case "nodeRegistry.StakeSlashed": {
        const p = this.provers.get(key(a.node));
        if (p) p.slashed += (a.fromLocked as bigint) + (a.fromFree as bigint) + (a.fromUnbonding as bigint);
        break;
      }
      default:
        if (e.contract === "jobEscrow") this.applyEscrow(e);
        else if (e.contract === "stepProofGame" || e.contract === "traceAvailability") this.applyDispute(e);
        else if (e.contract === "auditManager") this.applyAudit(e);
    }
  }

  private applyEscrow(e: ChainEvent): void {
    const a = e.args;
    if (e.name === "JobOpened") {
      const job: JobRecord = {
        id: a.jobId as bigint,
        client: a.client as Address,
        prover: a.prover as Address,
        modelId: key(a.modelId),
        status: JobStatus.Open,
        inputTokens: Number(a.inputTokens),
        escrowed: a.escrowed as bigint,
        collateral: a.collateral as bigint,
        openedAt: e.time,
        commitDeadline: a.commitDeadline as bigint,
        openDisputes: 0,
        disputes: [],
        audit: { state: AuditState.None },
      };
      this.jobs.set(job.id, job);
      this.prover(job.prover, e.blockNumber).jobsOpened++;
      return;
    }
    if (e.name === "AuditPoolFunded") {
      this.totals.auditPoolFunded += a.amount as bigint;
      return;
    }
    if (e.name === "AuditPaid") {
      this.totals.auditPaid += a.amount as bigint;
      return;
    }
    if (e.name === "SlashRewardPaid") {
      this.totals.slashRewards += a.reward as bigint;
      this.verifier(a.challenger as Address).slashRewards += a.reward as bigint;
      return;
    }
    const job = this.jobs.get(a.jobId as bigint);
    if (!job) return; // opened before the deployment block: cannot happen, but never crash the page on it
    const prover = this.prover(job.prover, e.blockNumber);
    switch (e.name) {
      case "ResultCommitted": {
        job.status = JobStatus.Committed;
        job.outputTokens = Number(a.outputTokens);
        job.traceRoot = a.traceRoot as Hex;
        job.committedAt = e.time;
        job.challengeDeadline = a.challengeDeadline as bigint;
        job.audit = { state: AuditState.Pending };
        prover.jobsServed++;
        const tokens = BigInt(job.inputTokens + job.outputTokens);
        prover.tokensServed += tokens;
        this.totals.tokensIn += BigInt(job.inputTokens);
        this.totals.tokensOut += BigInt(job.outputTokens);
        this.point(e, { tokensIn: BigInt(job.inputTokens), tokensOut: BigInt(job.outputTokens) });
        break;
      }
      case "ChallengeWindowExtended":
        job.challengeDeadline = a.challengeDeadline as bigint;
        break;
      case "JobFinalized": {
        const proverPaid = a.proverPaid as bigint;
        const fee = a.fee as bigint;
        const auditFee = a.auditFee as bigint;
        job.status = JobStatus.Finalized;
        job.settledAt = e.time;
        job.paid = { cost: proverPaid + fee + auditFee, proverPaid, fee, auditFee, clientRefund: a.clientRefund as bigint };
        prover.jobsFinalized++;
        prover.earned += proverPaid;
        this.totals.fees += fee;
        this.totals.auditFees += auditFee;
        this.totals.proverPaid += proverPaid;
        this.totals.clientRefunds += a.clientRefund as bigint;
        this.point(e, { fee, auditFee, proverPaid });
        break;
      }
      case "JobSlashed":
        job.status = JobStatus.Slashed;
        job.settledAt = e.time;
        job.slash = { slashed: a.slashed as bigint, reward: a.reward as bigint, jailedUntil: a.jailedUntil as bigint };
        job.refund = a.clientRefund as bigint;
        prover.jobsSlashed++;
        this.totals.slashed += a.slashed as bigint;
        this.totals.clientRefunds += a.clientRefund as bigint;
        this.point(e, { slashed: a.slashed as bigint });
        break;
      case "JobExpired":
        job.status = JobStatus.Expired;
        job.settledAt = e.time;
        job.refund = a.clientRefund as bigint;
        this.totals.clientRefunds += a.clientRefund as bigint;
        break;
      case "JobDeclined":
        job.status = JobStatus.Declined;
        job.settledAt = e.time;
        job.refund = a.clientRefund as bigint;
        this.totals.clientRefunds += a.clientRefund as bigint;
        break;
      case "JobDisputeOpened":
      case "JobDisputeResolved":
        job.openDisputes = Number(a.openDisputes);
        break;
    }
  }

  private applyDispute(e: ChainEvent): void {
    const a = e.args;
    const id = key(a.disputeId ?? a.challengeId);
    if (e.name === "DisputeOpened" || e.name === "AvailabilityChallenged") {
      const job = this.jobs.get(a.jobId as bigint);
      const step = e.name === "DisputeOpened";
      const d: DisputeRecord = {
        id: id as Hex,
        kind: step ? "step" : "availability",
        jobId: a.jobId as bigint,
        challenger: a.challenger as Address,
        ...(job ? { prover: job.prover } : {}),
        ...(step ? { position: Number(a.position), layer: Number(a.layer) } : { deadline: a.deadline as bigint }),
        stake: (step ? a.bond : a.fees) as bigint,
        openedAt: e.time,
        phase: step ? DisputePhase.AwaitingStepRoot : AvailabilityStatus.Open,
      };
      this.disputes.set(id, d);
      job?.disputes.push(id);
      this.verifier(d.challenger).disputesOpened++;
      return;
    }
    const d = this.disputes.get(id);
    if (!d) return;
    const prover = d.prover ? this.provers.get(key(d.prover)) : undefined;
    const challenger = this.verifier(d.challenger);
    const settle = (phase: number, proverAtFault: boolean | undefined) => {
      d.phase = phase;
      d.resolvedAt = e.time;
      if (proverAtFault === undefined) return;
      if (prover) proverAtFault ? prover.disputesLost++ : prover.disputesWon++;
      if (proverAtFault) challenger.disputesWon++;
    };
    switch (e.name) {
      case "StepRootPosted":
        d.phase = DisputePhase.AwaitingProof;
        break;
      case "FraudProven":
        d.detail = `op ${a.op} at tensor ${a.tensor}, row ${a.row}, column ${a.col}: claimed ${a.claimed}, exact ${a.ref}, bound ${a.bound}`;
        break;
      case "MalformedCommitmentProven":
        d.detail = `malformed commitment at tensor ${a.tensor}, row ${a.row}, column ${a.col}`;
        break;
      case "TimeoutClaimed":
        d.detail = a.proverTimedOut ? "the prover ran out of time" : "the challenger ran out of time";
        break;
      case "DisputeResolved":
        settle(a.proverAtFault ? DisputePhase.ChallengerWon : DisputePhase.ProverWon, a.proverAtFault as boolean);
        break;
      case "DisputeCancelled":
        d.detail ??= "the job was slashed by another dispute";
        settle(DisputePhase.Cancelled, undefined);
        break;
      case "AvailabilityAnswered":
        d.detail = "the prover published the demanded leaves";
        settle(AvailabilityStatus.Answered, false);
        break;
      case "AvailabilityFailed":
        d.detail = "the prover did not answer in time";
        settle(AvailabilityStatus.ProverFailed, true);
        break;
      case "AvailabilityCancelled":
        d.detail = "the job was slashed by another dispute";
        settle(AvailabilityStatus.Cancelled, undefined);
        break;
    }
  }

  private applyAudit(e: ChainEvent): void {
    const a = e.args;
    const job = a.jobId !== undefined ? this.jobs.get(a.jobId as bigint) : undefined;
    switch (e.name) {
      case "PoolJoined":
      case "PoolLeft":
      case "PoolEvicted": {
        const verifier = this.verifier((a.verifier ?? a.evicted) as Address);
        if (e.name === "PoolJoined") verifier.pools.add(key(a.modelId));
        else verifier.pools.delete(key(a.modelId));
        const model = this.models.get(key(a.modelId));
        if (model) model.poolSize = a.activeMembers !== undefined ? Number(a.activeMembers) : Math.max(0, model.poolSize - 1);
        break;
      }
      case "ModelAuditRateSet": {
        const model = this.models.get(key(a.modelId));
        if (model) model.auditRateBps = Number(a.rateBps);
        break;
      }
      case "AuditDrawn":
        if (job) job.audit = { state: Number(a.state), auditor: a.auditor as Address, deadline: a.deadline as bigint };
        if (Number(a.state) === AuditState.Assigned) this.verifier(a.auditor as Address).auditsAssigned++;
        break;
      case "AuditReported":
        if (job) job.audit = { ...job.audit, state: AuditState.Agreed, pay: a.pay as bigint };
        this.verifier(a.auditor as Address).auditsReported++;
        this.verifier(a.auditor as Address).auditPayReserved += a.pay as bigint;
        break;
      case "AuditDisputed":
        if (job) job.audit = { ...job.audit, state: AuditState.Disputed };
        this.verifier(a.auditor as Address).auditsDisputed++;
        break;
      case "AuditMissed":
        if (job) job.audit = { ...job.audit, state: AuditState.Missed };
        this.verifier(a.auditor as Address).auditsMissed++;
        break;
      case "AuditPayClaimed":
        this.verifier(a.auditor as Address).auditPayClaimed += a.amount as bigint;
        break;
      case "AuditorEjected": {
        const v = this.verifier(a.verifier as Address);
        v.ejected = true;
        v.ejectedSlashed = a.slashed as boolean;
        v.pools.clear();
        break;
      }
      case "CanaryExposed":
        if (job) job.audit = { ...job.audit, canary: true };
        if (a.auditorSlashed) this.verifier(a.auditor as Address).canariesApproved++;
        break;
    }
  }

  private prover(address: Address, block: bigint): ProverRecord {
    let p = this.provers.get(key(address));
    if (!p) {
      p = { address, endpoint: "", registeredBlock: block, offers: new Map(), jobsOpened: 0, jobsServed: 0, jobsFinalized: 0, jobsSlashed: 0, tokensServed: 0n, earned: 0n, slashed: 0n, disputesWon: 0, disputesLost: 0 };
      this.provers.set(key(address), p);
    }
    return p;
  }

  private verifier(address: Address): VerifierRecord {
    let v = this.verifiers.get(key(address));
    if (!v) {
      v = { address, registered: false, endpoint: "", pools: new Set(), auditsAssigned: 0, auditsReported: 0, auditsDisputed: 0, auditsMissed: 0, canariesApproved: 0, ejected: false, ejectedSlashed: false, auditPayReserved: 0n, auditPayClaimed: 0n, slashRewards: 0n, disputesOpened: 0, disputesWon: 0 };
      this.verifiers.set(key(address), v);
    }
    return v;
  }

  /** Add to the block's chart point (one point per block with activity). */
  private point(e: ChainEvent, add: Partial<Omit<SeriesPoint, "block" | "time">>): void {
    let p = this.series.at(-1);
    if (!p || p.block !== e.blockNumber) {
      p = { block: e.blockNumber, time: e.time, tokensIn: 0n, tokensOut: 0n, fee: 0n, auditFee: 0n, proverPaid: 0n, slashed: 0n };
      this.series.push(p);
    }
    for (const [k, v] of Object.entries(add) as [keyof typeof add, bigint][]) p[k] += v;
  }
}
