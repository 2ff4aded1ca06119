import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { erc20Abi } from "viem";
import { OP_COUNT } from "../../protocol/evaluator/layout.js";

/**
 * Defaults of every deployment parameter, each overridable with Ignition parameters
 * (`--parameters file.json` or the deploy script's flags). Units: token base units, seconds.
 */
export const DEFAULT_DEPLOY_PARAMETERS = {
  /** Operation codes judged by the step-proof game: OpCodes.COUNT, mirrored by the evaluator. */
  opCount: OP_COUNT,
  minProverStake: 100n * 10n ** 18n,
  minVerifierStake: 10n * 10n ** 18n,
  /** Unbonding must outlast a challenge window plus a full dispute. */
  unbondingDelay: 7n * 24n * 3600n,
  feeBps: 250,
  commitTimeout: 600,
  challengeWindow: 3600,
  collateralBps: 20_000,
  minCollateral: 10n ** 18n,
  missedCommitPenaltyBps: 5_000,
  challengerRewardBps: 5_000,
  /** Seconds after publishPrompt the prover may still decline a job it cannot serve (PROTOCOL §5.3). */
  declineWindow: 120,
  /** Most open jobs with a published prompt per prover (bounds forced work, PROTOCOL §5.3). */
  maxPublishedPerProver: 4,
  /** StepProofGame: the bond's floor and its share of the job's escrow (bps), and each side's chess clock (PROTOCOL §7.4, §9.5). */
  challengerBond: 10n ** 17n,
  bondBps: 5_000,
  proverClock: 3600n,
  challengerClock: 3600n,
  /** StepProofGame: fee per demanded leaf, paid to the prover for revealing it (its gas, PROTOCOL §7.4). */
  demandFee: 10n ** 16n,
  /** TraceAvailability: fee per named trace leaf (the prover's gas to publish it) and the answer window (PROTOCOL §8.1). */
  availabilityLeafFee: 10n ** 16n,
  availabilityAnswerWindow: 3600n,
  /** AuditManager (PROTOCOL §9.6): protocol-assigned audits, audit pay, canaries, the fraud penalty. */
  audit: {
    auditRateBps: 1_000,
    boundaries: 2,
    slashShareBps: 5_000,
    jailPeriod: 7 * 24 * 3600,
    auditFeeBps: 500,
    auditPeriod: 1_800,
    vestDelay: 24 * 3600,
    lazySlashBps: 10_000,
    maxMisses: 3,
    minBond: 10n * 10n ** 18n,
    leaveDelay: 2 * 24 * 3600,
  },
  /** VoucherEscrow and BatchCourt (PROTOCOL §5.8): deposits, vouchers, batched commitments. */
  vouchers: {
    feeBps: 250,
    auditFeeBps: 500,
    collateralBps: 20_000,
    challengeWindow: 3_600,
    answerWindow: 600,
    withdrawalNotice: 24 * 3600,
    challengerRewardBps: 5_000,
    maxDebits: 256,
    challengeFee: 10n ** 16n,
  },
  /** VoucherPublication (PROTOCOL §5.8 "Publication"): the voucher path's liveness guarantee. */
  publication: {
    publishTimeout: 600,
    declineWindow: 120,
    missedPenaltyBps: 5_000,
    maxOpenPerClient: 4,
  },
} as const;

/** The settlement suite around a given payment token (PROTOCOL §1). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Ignition types a contract future by its ABI; both token futures qualify.
function buildSuite(m: IgnitionModuleBuilder, token: any) {
  const d = DEFAULT_DEPLOY_PARAMETERS;
  // The deployer starts as governance and treasury; hand both to a multisig afterwards
  // (grantRole/renounceRole, setTreasury), see README "Deploying".
  const admin = m.getAccount(0);
  const treasury = m.getAccount(0);

  const models = m.contract("ModelRegistry", [admin, m.getParameter("opCount", d.opCount)]);
  const nodes = m.contract("NodeRegistry", [
    admin,
    token,
    models,
    m.getParameter("minProverStake", d.minProverStake),
    m.getParameter("minVerifierStake", d.minVerifierStake),
    m.getParameter("unbondingDelay", d.unbondingDelay),
    treasury,
  ]);
  const escrow = m.contract("JobEscrow", [
    admin,
    token,
    nodes,
    models,
    {
      feeBps: m.getParameter("feeBps", d.feeBps),
      commitTimeout: m.getParameter("commitTimeout", d.commitTimeout),
      challengeWindow: m.getParameter("challengeWindow", d.challengeWindow),
      collateralBps: m.getParameter("collateralBps", d.collateralBps),
      minCollateral: m.getParameter("minCollateral", d.minCollateral),
      missedCommitPenaltyBps: m.getParameter("missedCommitPenaltyBps", d.missedCommitPenaltyBps),
      challengerRewardBps: m.getParameter("challengerRewardBps", d.challengerRewardBps),
      declineWindow: m.getParameter("declineWindow", d.declineWindow),
      maxPublishedPerProver: m.getParameter("maxPublishedPerProver", d.maxPublishedPerProver),
    },
  ]);
  // The escrow is the only contract that may lock, unlock and slash stake.
  const escrowRole = m.staticCall(nodes, "ESCROW_ROLE", [], 0, { id: "escrowRole" });
  const slasherRole = m.staticCall(nodes, "SLASHER_ROLE", [], 0, { id: "slasherRole" });
  m.call(nodes, "grantRole", [escrowRole, escrow], { id: "grantEscrowRole" });
  m.call(nodes, "grantRole", [slasherRole, escrow], { id: "grantSlasherRole" });
  m.call(escrow, "setTreasury", [treasury], { id: "setEscrowTreasury" });

  // The one-step judge and the dispute game; wired into the escrow once (setDisputeGame).
  const judge = m.contract("StepJudge");
  const game = m.contract("StepProofGame", [
    escrow,
    models,
    judge,
    token,
    m.getParameter("challengerBond", d.challengerBond),
    m.getParameter("bondBps", d.bondBps),
    m.getParameter("proverClock", d.proverClock),
    m.getParameter("challengerClock", d.challengerClock),
    m.getParameter("demandFee", d.demandFee),
  ]);
  m.call(escrow, "setDisputeGame", [game], { id: "wireDisputeGame" });
  // Trace availability challenges use the same hook (setAvailabilityGame, set once).
  const availability = m.contract("TraceAvailability", [
    escrow,
    models,
    token,
    m.getParameter("availabilityLeafFee", d.availabilityLeafFee),
    m.getParameter("availabilityAnswerWindow", d.availabilityAnswerWindow),
  ]);
  m.call(escrow, "setAvailabilityGame", [availability], { id: "wireAvailabilityGame" });
  // Protocol-assigned audits (PROTOCOL §9): it locks verifiers' bonds and slashes lazy auditors.
  const a = d.audit;
  const audits = m.contract("AuditManager", [
    admin,
    escrow,
    nodes,
    models,
    {
      auditRateBps: m.getParameter("auditRateBps", a.auditRateBps),
      boundaries: m.getParameter("auditBoundaries", a.boundaries),
      slashShareBps: m.getParameter("slashShareBps", a.slashShareBps),
      jailPeriod: m.getParameter("jailPeriod", a.jailPeriod),
      auditFeeBps: m.getParameter("auditFeeBps", a.auditFeeBps),
      auditPeriod: m.getParameter("auditPeriod", a.auditPeriod),
      vestDelay: m.getParameter("vestDelay", a.vestDelay),
      lazySlashBps: m.getParameter("lazySlashBps", a.lazySlashBps),
      maxMisses: m.getParameter("maxMisses", a.maxMisses),
      minBond: m.getParameter("minAuditBond", a.minBond),
      leaveDelay: m.getParameter("leaveDelay", a.leaveDelay),
    },
  ]);
  const auditRole = m.staticCall(nodes, "AUDIT_ROLE", [], 0, { id: "auditRole" });
  m.call(nodes, "grantRole", [auditRole, audits], { id: "grantAuditRole" });
  m.call(nodes, "grantRole", [slasherRole, audits], { id: "grantAuditSlasherRole" });
  m.call(escrow, "setAuditManager", [audits], { id: "wireAuditManager" });
  // Batched settlement (PROTOCOL §5.8): the voucher escrow locks provers' reserves; its court
  // moves disputed jobs into the escrow and slashes voided batches.
  const v = d.vouchers;
  const vouchers = m.contract("VoucherEscrow", [
    admin,
    token,
    nodes,
    escrow,
    {
      feeBps: m.getParameter("voucherFeeBps", v.feeBps),
      auditFeeBps: m.getParameter("voucherAuditFeeBps", v.auditFeeBps),
      collateralBps: m.getParameter("voucherCollateralBps", v.collateralBps),
      challengeWindow: m.getParameter("batchChallengeWindow", v.challengeWindow),
      answerWindow: m.getParameter("leafAnswerWindow", v.answerWindow),
      withdrawalNotice: m.getParameter("withdrawalNotice", v.withdrawalNotice),
      challengerRewardBps: m.getParameter("batchChallengerRewardBps", v.challengerRewardBps),
      maxDebits: m.getParameter("maxDebits", v.maxDebits),
    },
    m.getParameter("leafChallengeFee", v.challengeFee),
  ]);
  const court = m.contract("BatchCourt", [vouchers, nodes, models]);
  m.call(nodes, "grantRole", [escrowRole, vouchers], { id: "grantVoucherEscrowRole" });
  m.call(nodes, "grantRole", [slasherRole, court], { id: "grantCourtSlasherRole" });
  const vouchersRole = m.staticCall(escrow, "VOUCHERS_ROLE", [], 0, { id: "vouchersRole" });
  m.call(escrow, "grantRole", [vouchersRole, court], { id: "grantCourtAdoption" });
  m.call(vouchers, "setCourt", [court], { id: "wireBatchCourt" });
  // Published vouchers hold a penalty in the prover's reserve; a missed one is slashed from it.
  const pp = d.publication;
  const publication = m.contract("VoucherPublication", [
    admin,
    vouchers,
    nodes,
    models,
    {
      publishTimeout: m.getParameter("voucherPublishTimeout", pp.publishTimeout),
      declineWindow: m.getParameter("voucherDeclineWindow", pp.declineWindow),
      missedPenaltyBps: m.getParameter("voucherMissedPenaltyBps", pp.missedPenaltyBps),
      maxOpenPerClient: m.getParameter("maxPublishedVouchersPerClient", pp.maxOpenPerClient),
    },
  ]);
  m.call(nodes, "grantRole", [slasherRole, publication], { id: "grantPublicationSlasherRole" });
  m.call(vouchers, "setPublication", [publication], { id: "wireVoucherPublication" });
  return { models, nodes, escrow, judge, game, availability, audits, vouchers, court, publication };
}

/** Any ERC-20: only the standard ABI is needed to reference an existing token. */
const PAYMENT_TOKEN_ARTIFACT = {
  _format: "hh3-artifact-1",
  contractName: "PaymentToken",
  sourceName: "erc20",
  abi: erc20Abi,
  bytecode: "0x",
  deployedBytecode: "0x",
  linkReferences: {},
  deployedLinkReferences: {},
} as const;

/** Production/testnet: the suite around an existing ERC-20 given as `paymentToken`. */
export const StepproofModule = buildModule("Stepproof", (m) => {
  const token = m.contractAt("PaymentToken", PAYMENT_TOKEN_ARTIFACT, m.getParameter<string>("paymentToken"));
  return { token, ...buildSuite(m, token) };
});

/** Local chains: also a test ERC-20 (with permit) minted to the first accounts. */
export const StepproofLocalModule = buildModule("StepproofLocal", (m) => {
  const token = m.contract("TestToken", [m.getAccount(0)]);
  const perAccount = m.getParameter("fundPerAccount", 1_000_000n * 10n ** 18n);
  for (let i = 0; i < 10; i++) {
    m.call(token, "mint", [m.getAccount(i), perAccount], { id: `fundAccount${i}` });
  }
  return { token, ...buildSuite(m, token) };
});

export default StepproofLocalModule;
