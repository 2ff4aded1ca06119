/**
 * The agents of the economics simulation and what each one tallies. Amounts are base units
 * (bigint, as the contracts count them); `expected*` fields are floats in base units.
 */
import type { FraudSlash, Quote, StakeState } from "../../protocol/incentives/index.js";
import type { Rng } from "./prng.js";

// ------------------------------------------------------------------ provers

export type ProverStrategy = {
  name: string;
  /** Share of its jobs the prover cheats on (decided per job). */
  cheatRate: number;
  /** Chooses its output (caught with certainty when audited) instead of corrupting one boundary. */
  head: boolean;
  /** Runs a sybil that opens placeholder disputes on its cheating jobs and late ones after an honest auditor's (§9.5). */
  sybil: boolean;
  /** Its partner verifier in the pool approves its jobs (and is paid the compute its cheats save). */
  colluding: boolean;
};

const cheat = (name: string, cheatRate: number, extra: Partial<ProverStrategy> = {}): ProverStrategy => ({ name, cheatRate, head: false, sybil: false, colluding: false, ...extra });

export function proverStrategies(schemeRate: number): ProverStrategy[] {
  return [
    cheat("honest", 0),
    cheat("cheat-0.1%", 0.001),
    cheat("cheat-1%", 0.01),
    cheat("cheat-10%", 0.1),
    cheat("cheat-100%", 1),
    cheat("cheat-head", schemeRate, { head: true }),
    cheat("cheat-sybil", schemeRate, { sybil: true }),
    cheat("cheat-colluding", schemeRate, { colluding: true }),
  ];
}

export type ProverLedger = {
  /** Jobs taken, of which cheated; arrivals refused by the exposure limit (or too little stake) and by jail. */
  jobs: number;
  cheatJobs: number;
  refusedLimit: number;
  refusedJailed: number;
  /** Jobs slashed, and cheating jobs that settled unnoticed (bad outputs delivered). */
  caught: number;
  undetected: number;
  /** proverPaid of every job taken, as if none were slashed; what settlement actually paid. */
  payable: bigint;
  paid: bigint;
  compute: bigint;
  gas: bigint;
  slashed: bigint;
  /** Compute not spent on cheating jobs; their whole cost (the full-price variant's gain). */
  savedCompute: bigint;
  cheatCost: bigint;
  /** Slash rewards its sybil collected (the coalition keeps them), and under the old first-resolved rule. */
  rewardsCaptured: bigint;
  rewardsCapturedOldRule: bigint;
  sybilGas: bigint;
  bribesPaid: bigint;
  /** Σ over cheating jobs of P(caught) × slash, and × (slash + forfeited pay), at commit; the sybil's expected capture. */
  expectedSlash: number;
  expectedLoss: number;
  expectedCaptured: number;
};

export type ProverAgent = {
  id: string;
  strategy: ProverStrategy;
  replica: number;
  stake: StakeState;
  /** Escrow of its Open and Committed jobs (`JobEscrow.exposure`). */
  exposure: bigint;
  jailedUntil: number;
  arrivals: Rng;
  sizes: Rng;
  cheats: Rng;
  ledger: ProverLedger;
};

export function newProverLedger(): ProverLedger {
  return { jobs: 0, cheatJobs: 0, refusedLimit: 0, refusedJailed: 0, caught: 0, undetected: 0, payable: 0n, paid: 0n, compute: 0n, gas: 0n, slashed: 0n, savedCompute: 0n, cheatCost: 0n, rewardsCaptured: 0n, rewardsCapturedOldRule: 0n, sybilGas: 0n, bribesPaid: 0n, expectedSlash: 0, expectedLoss: 0, expectedCaptured: 0 };
}

// ------------------------------------------------------------------ verifiers

export type VerifierStrategy = "honest" | "lazy" | "offline" | "colluding";

export type VerifierLedger = {
  /** Audits assigned (canaries among them), answered by a dispute, missed; ejections. */
  assigned: number;
  canaries: number;
  disputes: number;
  missed: number;
  ejections: number;
  /** Audit pay claimed after vesting; pay forfeited at ejection. */
  pay: bigint;
  forfeited: bigint;
  fraudRewards: bigint;
  canaryRewards: bigint;
  bribes: bigint;
  compute: bigint;
  gas: bigint;
  slashed: bigint;
  /**
   * Expected profit of these assignments under this verifier's strategy at assignment time (of
   * which slash rewards from real cheaters), and what an honest auditor would expect on exactly
   * the same assignments (a matched comparison).
   */
  expected: number;
  expectedFraudRewards: number;
  honestOnSameAudits: number;
  /** The colluder's assignments on its partner's jobs: how many, its expectation and an honest auditor's. */
  partnerJobs: number;
  partnerOwn: number;
  partnerHonest: number;
  /** Assignments per identity that ended in ejection. */
  auditsPerLife: number[];
  /** Per identity that lost its stake: which of its approved canaries (1st, 2nd, …) exposed it. */
  canariesPerLife: number[];
};

export type VerifierOperator = {
  id: string;
  strategy: VerifierStrategy;
  /** The colluding verifier's partner prover. */
  partner?: ProverAgent;
  identities: number;
  ledger: VerifierLedger;
};

export type PendingPay = { pay: bigint; vested: boolean };

/** One registered verifier address in the pool (a lazy operator gets a new one after each ejection). */
export type VerifierIdentity = {
  operator: VerifierOperator;
  stake: StakeState;
  bond: bigint;
  joinedAt: number;
  ejected: boolean;
  misses: number;
  pending: Set<PendingPay>;
  audits: number;
  canaries: number;
  /** Canaries this address approved (reported Agreed on). */
  canariesApproved: number;
};

export function newVerifierLedger(): VerifierLedger {
  return { assigned: 0, canaries: 0, disputes: 0, missed: 0, ejections: 0, pay: 0n, forfeited: 0n, fraudRewards: 0n, canaryRewards: 0n, bribes: 0n, compute: 0n, gas: 0n, slashed: 0n, expected: 0, expectedFraudRewards: 0, honestOnSameAudits: 0, partnerJobs: 0, partnerOwn: 0, partnerHonest: 0, auditsPerLife: [], canariesPerLife: [] };
}

// ------------------------------------------------------------------ jobs and disputes

export type Dispute = {
  seq: number;
  by: "auditor" | "volunteer" | "sybil";
  auditor?: VerifierIdentity;
  /** A sybil's placeholder (kept open to the window's end) rather than a proof of fraud. */
  placeholder: boolean;
  resolved: boolean;
};

export type AuditState = "unaudited" | "assigned" | "agreed" | "disputed";

export type Job = {
  id: number;
  /** Undefined for a canary job (the canary role's prover). */
  prover?: ProverAgent;
  canary: boolean;
  cheat: boolean;
  head: boolean;
  quote: Quote;
  committedAt: number;
  auditDeadline: number;
  audited: boolean;
  auditor?: VerifierIdentity;
  auditState: AuditState;
  status: "open" | "committed" | "slashed" | "settled";
  disputes: Dispute[];
  /** Settlement came due while a dispute was still open. */
  settleDue: boolean;
  /** A canary a lazy auditor approved: its ordinal among that auditor's approved canaries. */
  approvedCanary?: number;
  /** A cheating job's chance of being caught (drawn at commit) and its slash as of then. */
  catchChance?: { byAudit: number; byVolunteer: number; slashAtCommit: FraudSlash };
};

// ------------------------------------------------------------------ everyone else

export type VolunteerLedger = { checks: number; disputes: number; compute: bigint; gas: bigint; rewards: bigint };

export type TreasuryLedger = {
  /** Protocol fees of real jobs; its share of cheaters' slashes; lazy auditors' slashed stake. */
  fees: bigint;
  fraudSlashShare: bigint;
  lazySlashes: bigint;
  /** The canary program: rewards paid out of canary provers' slashed stake, audit fees and gas of canary jobs. */
  canaryRewards: bigint;
  canaryAuditFees: bigint;
  canaryGas: bigint;
  canaryJobs: number;
  canariesCaught: number;
  canariesExposed: number;
  /** Audit pool seed. */
  poolSeed: bigint;
};

export type ClientLedger = { jobs: number; paid: bigint; refundedFraud: number; badOutputs: number };
