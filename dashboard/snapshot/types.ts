import type { CumulativePoint } from "./series.js";

/**
 * The JSON the page receives (GET /api/snapshot, and each SSE `snapshot` event). Amounts are in
 * the payment token's base units as decimal strings (they exceed JS numbers); times are chain
 * seconds (block timestamps), so clocks on a dev chain whose time was advanced read correctly.
 */
export type Amount = string;

export type Snapshot = {
  /** Increases with every snapshot this server builds. */
  version: number;
  /** Server wall-clock time the snapshot was built (ms since the epoch). */
  builtAt: number;
  chain: { id: number; rpcUrl: string; head: string; headTime: number; indexed: string; startBlock: number; caughtUp: boolean; confirmations: number };
  /** Set while the last refresh failed: the data shown is from `builtAt` and may be stale. */
  error?: { message: string; since: number };
  token: { address: string; symbol: string; decimals: number };
  contracts: Record<string, string>;
  params: { feeBps: number; auditFeeBps: number; challengeWindow: number; commitTimeout: number; auditRateBps: number; boundaries: number; slashShareBps: number; jailPeriod: number; auditPeriod: number; vestDelay: number };
  totals: {
    tokensIn: number;
    tokensOut: number;
    fees: Amount;
    auditFees: Amount;
    proverPaid: Amount;
    clientRefunds: Amount;
    slashed: Amount;
    slashRewards: Amount;
    auditPoolFunded: Amount;
    auditPaid: Amount;
    jobs: Record<"total" | "open" | "committed" | "finalized" | "slashed" | "expired" | "declined", number>;
    disputes: { total: number; live: number };
  };
  balances: {
    treasury: { address: string; wallet: Amount; escrowCredit: Amount; registryCredit: Amount };
    auditPool: Amount;
    auditReserved: Amount;
    totalEscrowed: Amount;
    totalStaked: Amount;
    totalUnbonding: Amount;
    books: { contract: string; holds: Amount; owes: Amount; ok: boolean }[];
  };
  models: { id: string; name?: string; auditRateBps: number; detection: number; poolSize: number }[];
  provers: ProverView[];
  verifiers: VerifierView[];
  jobs: { total: number; shown: JobView[] };
  disputes: { total: number; shown: DisputeView[] };
  series: CumulativePoint[];
};

export type NodeHealth = { ok: boolean; status?: number; latencyMs?: number; error?: string; checkedAt: number };

export type ProverView = {
  address: string;
  endpoint: string;
  health?: NodeHealth;
  stake: Amount;
  locked: Amount;
  unbonding: Amount;
  free: Amount;
  /** Σ escrow of its open and committed jobs (PROTOCOL §9.4). */
  exposure: Amount;
  /** The tightest exposure limit of its active offers' models at today's free stake. */
  exposureLimit: Amount;
  jailedUntil: number;
  offers: { modelId: string; name?: string; inputPrice: Amount; outputPrice: Amount; active: boolean }[];
  jobsOpened: number;
  jobsServed: number;
  jobsFinalized: number;
  jobsSlashed: number;
  tokensServed: number;
  earned: Amount;
  slashed: Amount;
  disputesWon: number;
  disputesLost: number;
};

export type VerifierView = {
  address: string;
  registered: boolean;
  endpoint: string;
  stake: Amount;
  bond: Amount;
  pools: { modelId: string; name?: string }[];
  misses: number;
  ejected: boolean;
  ejectedSlashed: boolean;
  auditsAssigned: number;
  auditsReported: number;
  auditsDisputed: number;
  auditsMissed: number;
  canariesApproved: number;
  auditPayClaimed: Amount;
  /** Reported, not yet claimed (AuditManager.getAuditor.unclaimed). */
  auditPayUnclaimed: Amount;
  slashRewards: Amount;
  disputesOpened: number;
  disputesWon: number;
};

export type JobView = {
  id: string;
  client: string;
  prover: string;
  modelId: string;
  modelName?: string;
  status: string;
  inputTokens: number;
  outputTokens?: number;
  escrowed: Amount;
  /** Finalized: what the client paid (prover + fee + audit fee). */
  paid?: Amount;
  fee?: Amount;
  auditFee?: Amount;
  refund?: Amount;
  /** Slashed: what the prover lost, and the reward paid out of it. */
  slashed?: Amount;
  reward?: Amount;
  openedAt: number;
  committedAt?: number;
  challengeDeadline?: number;
  settledAt?: number;
  openDisputes: number;
  audit: { state: string; auditor?: string; deadline?: number; pay?: Amount; canary?: boolean };
};

export type DisputeView = {
  id: string;
  kind: "step" | "availability";
  jobId: string;
  challenger: string;
  prover?: string;
  position?: number;
  layer?: number;
  stake: Amount;
  phase: string;
  /** Whose move it is while live. */
  turn?: "prover" | "challenger";
  live: boolean;
  openedAt: number;
  resolvedAt?: number;
  /** Live: the last second the side to move may act. */
  deadline?: number;
  proverClockLeft?: number;
  challengerClockLeft?: number;
  outcome?: "prover won" | "challenger won" | "cancelled";
  detail?: string;
};
