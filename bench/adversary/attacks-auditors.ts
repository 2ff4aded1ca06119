/**
 * Attacks by and on auditors (PROTOCOL §9.1–§9.3): a lazy auditor that approves without
 * checking and then tries to leave with its stake, a canary role that picks its canary after
 * seeing the report, a pool member that steers the draw after seeing the seed, and an auditor
 * (or a stranger) that claims audit pay twice or for another's audit. Each row names the rule
 * that stops it.
 */
import { bytesToHex, encodeAbiParameters, keccak256, maxUint256, parseEther, toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { AuditState, canaryCommitment, claimAuditPay, commitCanary, exposeCanary, fixDraw, joinAuditPools, readAssignment, reportAudit, type AuditAssignment } from "../../protocol/chain/actions/audits.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { unbond } from "../../protocol/chain/actions/unbond.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { auditManagerAbi, jobEscrowAbi, testTokenAbi } from "../../protocol/chain/generated/abi.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { chunkBytes } from "../../protocol/dispute/tensors.js";
import { bumpElement } from "./cheats.js";
import { blockNumber, collectGas, commitFor, honestData, openAndCommit, openFor, promptOf, type World } from "./env.js";
import { addressOf, asGovernance, auditOf, auditorOf, commitCorrupted, escrowCredits, fmt, mineBlock, NEW, nodeOf, P, registerModelCopy, revertOf, roleOf, testClient } from "./incentives-world.js";
import { Ledger, type AttackRow } from "./report.js";

/** The probe leaf of an assignment from a trace the caller holds: all a lazy auditor fetches. */
export function probeLeaf(data: DisputeData, a: AuditAssignment): { chunk: Hex; proof: Hex[] } {
  const { boundary, row, chunk } = a.probe;
  return { chunk: bytesToHex(chunkBytes(data.trace.hidden[boundary]!, row, chunk, data.encoding.chunkSize)), proof: data.traceTree.proof(boundary, row, chunk) };
}

/** Governance adds `amount` to the escrow's audit pool (the treasury bootstrapping audit pay, §9.2). */
async function fundAuditPool(w: World, amount: bigint): Promise<void> {
  const { jobEscrow, token } = w.as.governance.deployment.contracts;
  await sendContractTransaction(w.as.governance, { address: token, abi: testTokenAbi, functionName: "approve", args: [jobEscrow, maxUint256], what: "approve the escrow" });
  await sendContractTransaction(w.as.governance, { address: jobEscrow, abi: jobEscrowAbi, functionName: "fundAuditPool", args: [amount], what: "fund the audit pool" });
}

/**
 * canary-after-commit, then lazy-auditor-canary. A second model whose only pool member is the
 * lazy auditor; governance holds CANARY_ROLE and opens jobs as the canary client with the
 * cheater, which commits a corrupted trace; the lazy auditor reports agreement with the probe
 * leaf alone. First the role commits to its canary prover only after the result (so it could
 * pick it after seeing the report): NotACanary, the auditor keeps its stake. Then a real canary,
 * committed before the result: the auditor tries to leave with its stake (leave the pool,
 * release the bond, unbond the rest) and is exposed by the canary prover — the role itself may
 * not expose (it cannot make other provers' jobs canaries). Rules: a canary commitment must be
 * older than the seed block and exposure must come from the committed prover
 * (AuditManager.exposeCanary) — without them the role could slash any auditor after the fact;
 * the bond stays locked `leaveDelay ≥ auditPeriod + vestDelay` after leaving, and
 * the lazy slash takes the bond and `lazySlashBps` of free and unbonding stake — without them a
 * lazy auditor would keep its stake and pay.
 */
export async function canaryAttacks(w: World): Promise<AttackRow[]> {
  const lazy = addressOf(w, "lazyAuditor");
  const setupFrom = await blockNumber(w);
  await registerNode(w.as.lazyAuditor, { role: "verifier", stake: parseEther("100"), endpoint: "http://127.0.0.1/lazyAuditor" });
  const modelId = await registerModelCopy(w, { name: "canary", pool: ["lazyAuditor"], provers: ["cheater"], auditRateBps: 10_000 });
  const c = w.as.governance;
  const canaryRole = await c.publicClient.readContract({ address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "CANARY_ROLE" });
  await asGovernance(w, "grantRole", [canaryRole, addressOf(w, "governance")]);
  await fundAuditPool(w, parseEther("10"));

  // The role commits after the result was committed (the setup's gas is counted here).
  const late = new Ledger();
  const a = await commitCorrupted(w, { seed: 81, modelId, client: "governance" });
  const lateSalt = keccak256(toHex("salt after the commit"));
  await commitCanary(c, canaryCommitment(addressOf(w, "cheater"), lateSalt));
  const aAssignment = await readAssignment(c, a.jobId);
  await reportAudit(w.as.lazyAuditor, { jobId: a.jobId, ...probeLeaf(a.committed, aAssignment) });
  const stakeBefore = (await nodeOf(w, lazy)).stake;
  const notACanary = await revertOf(() => exposeCanary(w.as.cheater, { jobId: a.jobId, salt: lateSalt }));
  const keptStake = (await nodeOf(w, lazy)).stake === stakeBefore && (await auditorOf(w, lazy)).ejectedBlock === 0;
  await collectGas(w, late, setupFrom);
  const lateRow = late.row("canary-after-commit", {
    cheaterWon: notACanary !== "NotACanary",
    honestLost: !keptStake,
    outcome: `canary committed after the result, the auditor had agreed: exposeCanary ${notACanary ?? "went through"}; auditor stake ${keptStake ? "untouched" : "slashed"}`,
  });

  // A real canary: committed before the result.
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(82, P);
  const salt = keccak256(toHex("canary salt"));
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  await commitCanary(c, canaryCommitment(addressOf(w, "cheater"), salt));
  const jobId = await openFor(w, { prover: "cheater", prompt, maxOutputTokens: NEW, modelId, client: "governance" });
  await commitFor(w, { prover: "cheater", jobId, inputTokens: P, data: committed });
  await mineBlock(w);
  const assignment = await readAssignment(c, jobId);
  await reportAudit(w.as.lazyAuditor, { jobId, ...probeLeaf(committed, assignment) });
  const unclaimed = (await auditorOf(w, lazy)).unclaimed;
  // The lazy auditor tries to get away before the canary is revealed.
  await sendContractTransaction(w.as.lazyAuditor, { address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "leavePool", args: [modelId], what: "leave the pool" });
  const release = await revertOf(() => sendContractTransaction(w.as.lazyAuditor, { address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "releaseBond", args: [], what: "release the bond" }));
  const node = await nodeOf(w, lazy);
  await unbond(w.as.lazyAuditor, { action: "request", amount: node.stake - node.locked });
  const at = await nodeOf(w, lazy);
  const byTheRole = await revertOf(() => exposeCanary(c, { jobId, salt }));
  await exposeCanary(w.as.cheater, { jobId, salt });
  const after = await nodeOf(w, lazy);
  const auditor = await auditorOf(w, lazy);
  await w.warp(BigInt(24 * 3600 + 1));
  const claim = await revertOf(() => claimAuditPay(w.as.lazyAuditor, [a.jobId, jobId]));
  await collectGas(w, ledger, from);
  const kept = after.stake + after.unbonding;
  return [
    lateRow,
    ledger.row("lazy-auditor-canary", {
      cheaterWon: kept > 0n || auditor.ejectedBlock === 0 || auditor.unclaimed !== 0n || claim !== "Ejected" || release !== "BondLocked" || byTheRole !== "NotACanary",
      honestLost: false,
      outcome: `lazy auditor agreed (pay ${fmt(unclaimed)} unclaimed), left the pool (releaseBond: ${release ?? "released"}), unbonded ${fmt(at.unbonding)}; exposure by the role itself: ${byTheRole ?? "accepted"}; exposed by the canary prover: stake ${fmt(at.stake)} + unbonding ${fmt(at.unbonding)} → ${fmt(kept)}, ejected, pay forfeited, claim: ${claim ?? "paid"}`,
    }),
  ];
}

/** keccak256(abi.encode(seed, member)): the draw's score; the smallest eligible one audits (§9.1). */
const drawScore = (seed: Hex, member: Address): bigint => BigInt(keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "address" }], [seed, member])));

/** A fresh funded account (ether for gas, tokens for stake), as a sybil would create one. */
async function freshAccount(w: World, privateKey: Hex): Promise<StepproofClients> {
  const account = privateKeyToAccount(privateKey);
  await testClient(w).setBalance({ address: account.address, value: parseEther("10") });
  const gov = w.as.governance;
  await sendContractTransaction(gov, { address: gov.deployment.contracts.token, abi: testTokenAbi, functionName: "transfer", args: [account.address, parseEther("20")], what: "fund a sybil" });
  return connectStepproof({ rpcUrl: w.chain.url, deploymentFile: w.chain.deploymentFile, account });
}

/**
 * steer-the-draw: in a pool of the verifier and the cheater's sybil, once a job's seed is known
 * (the block after the commit) the cheater grinds a fresh address whose draw score beats the
 * drawn auditor's, registers and joins it, and the sybil leaves (and tries to prune itself) —
 * anything that would move the minimum. Rule: only members joined before the seed block and
 * not left at it are drawn, and left members stay stored until 256 blocks (AuditPools._pick,
 * prune) — without it the fresh address would become the auditor.
 */
export async function steerTheDraw(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const modelId = await registerModelCopy(w, { name: "steer", pool: ["verifier", "sybil"], provers: ["cheater"], auditRateBps: 10_000 });
  const prompt = promptOf(83, P);
  const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: honestData(w, prompt, NEW), modelId });
  await mineBlock(w);
  const c = w.as.governance;
  const drawn = await readAssignment(c, jobId);
  const seedBlock = (await auditOf(w, jobId)).seedBlock;
  const hash = (await c.publicClient.getBlock({ blockNumber: BigInt(seedBlock) })).hash;
  const seed = keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint256" }], [hash, jobId]));
  const best = drawScore(seed, drawn.auditor);
  let key = generatePrivateKey();
  while (drawScore(seed, privateKeyToAccount(key).address) >= best) key = generatePrivateKey();
  const grinder = await freshAccount(w, key);
  await registerNode(grinder, { role: "verifier", stake: parseEther("20"), endpoint: "http://127.0.0.1/grinder", auditPools: [modelId] });
  await sendContractTransaction(w.as.sybil, { address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "leavePool", args: [modelId], what: "leave the pool" });
  const pool = await c.publicClient.readContract({ address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "poolOf", args: [modelId] });
  const sybilIndex = pool.findIndex((m) => m.verifier.toLowerCase() === addressOf(w, "sybil").toLowerCase());
  const prune = await revertOf(() => sendContractTransaction(w.as.sybil, { address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "prune", args: [modelId, BigInt(sybilIndex)], what: "prune" }));
  const viewAfter = await readAssignment(c, jobId);
  await fixDraw(w.as.sybil, jobId);
  const fixed = (await auditOf(w, jobId)).auditor;
  await collectGas(w, ledger, from);
  const same = (x: Address) => x.toLowerCase() === drawn.auditor.toLowerCase();
  return ledger.row("steer-the-draw", {
    cheaterWon: drawn.state !== AuditState.Assigned || !same(viewAfter.auditor) || !same(fixed) || prune !== "NotPrunable",
    honestLost: false,
    outcome: `drawn ${roleOf(w, drawn.auditor)}; after an address ground for a better score joined and the sybil left (prune: ${prune ?? "pruned"}) the draw is ${roleOf(w, viewAfter.auditor)}, fixed ${roleOf(w, fixed)}`,
  });
}

/**
 * audit-pay-double-claim: an honest job's auditor agrees (probe leaf) and claims its pay early,
 * twice in one call, and again after claiming; a stranger reports the same probe to take the
 * pay. Rules: vesting, the Agreed → Paid transition before paying (AuditManager.claimAuditPay),
 * and NotAuditor on reports — without them the pool would pay one audit several times.
 */
export async function auditPayDoubleClaim(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  await fundAuditPool(w, parseEther("10"));
  const prompt = promptOf(84, P);
  const data = honestData(w, prompt, NEW);
  const jobId = await openAndCommit(w, { prover: "honestProver", prompt, data });
  await mineBlock(w);
  const c = w.as.governance;
  const assignment = await readAssignment(c, jobId);
  const stranger = await revertOf(() => reportAudit(w.as.sybil, { jobId, ...probeLeaf(data, assignment) }));
  await reportAudit(w.as.verifier, { jobId, ...probeLeaf(data, assignment) });
  const { pay, vestsAt } = await auditOf(w, jobId);
  const early = await revertOf(() => claimAuditPay(w.as.verifier, [jobId]));
  await w.warp(BigInt(vestsAt) - (await w.now()) + 1n);
  const twice = await revertOf(() => claimAuditPay(w.as.verifier, [jobId, jobId]));
  const before = await escrowCredits(w, addressOf(w, "verifier"));
  await claimAuditPay(w.as.verifier, [jobId]);
  const again = await revertOf(() => claimAuditPay(w.as.verifier, [jobId]));
  const got = (await escrowCredits(w, addressOf(w, "verifier"))) - before;
  await collectGas(w, ledger, from);
  return ledger.row("audit-pay-double-claim", {
    cheaterWon: got !== pay || stranger !== "NotAuditor" || early !== "NotVested" || twice !== "WrongAuditState" || again !== "WrongAuditState",
    honestLost: pay === 0n,
    outcome: `stranger's report: ${stranger ?? "accepted"}; claim before vesting: ${early ?? "paid"}; [job, job]: ${twice ?? "paid"}; once: ${fmt(got)} (pay ${fmt(pay)}); again: ${again ?? "paid"}`,
  });
}

/**
 * pool-flood: the cheater fills a new model's audit pool with `MAX_POOL` sybil verifiers (each
 * locks only `minBond`), so that every audit of its jobs goes to its own sybils (§9.7: detection
 * p·(1 − f) with f = 1) and honest verifiers are kept out. Rule: a full pool admits a verifier
 * whose bond beats its smallest member's, evicting that one (AuditPools._evictSmallestBond) —
 * without it the first entrants keep honest auditors out for good; with it, keeping them out
 * costs outbidding every honest bond.
 */
export async function poolFlood(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const modelId = await registerModelCopy(w, { name: "flood", pool: [], provers: ["cheater"], auditRateBps: 10_000 });
  const c = w.as.governance;
  const manager = c.deployment.contracts.auditManager;
  const max = await c.publicClient.readContract({ address: manager, abi: auditManagerAbi, functionName: "MAX_POOL" });
  const { minBond } = await c.publicClient.readContract({ address: manager, abi: auditManagerAbi, functionName: "params" });
  const sybils = new Set<string>();
  for (let i = 0n; i < max; i++) {
    const sybil = await freshAccount(w, keccak256(toHex(`pool-flood sybil ${i}`)));
    await registerNode(sybil, { role: "verifier", stake: minBond, endpoint: `http://127.0.0.1/flood${i}`, auditPools: [modelId] });
    sybils.add(sybil.walletClient!.account.address.toLowerCase());
  }
  const atMinimum = await revertOf(() => joinAuditPools(w.as.verifier2, [modelId]));
  // The honest verifier raises its bond by one unit above the sybils' and joins.
  const auditor = await auditorOf(w, addressOf(w, "verifier2"));
  const raise = auditor.bond === 0n ? minBond + 1n : minBond + 1n - auditor.bond;
  if (raise > 0n) await sendContractTransaction(w.as.verifier2, { address: manager, abi: auditManagerAbi, functionName: "increaseBond", args: [raise], what: "raise the audit bond" });
  const outbid = await revertOf(() => joinAuditPools(w.as.verifier2, [modelId]));
  const admitted = await c.publicClient.readContract({ address: manager, abi: auditManagerAbi, functionName: "isActiveMember", args: [modelId, addressOf(w, "verifier2")] });
  await collectGas(w, ledger, from);
  return ledger.row("pool-flood", {
    cheaterWon: !admitted,
    honestLost: false,
    outcome: `${max} sybils locked ${fmt(minBond * max)}; an honest verifier at the minimum bond: ${atMinimum ?? "admitted"}; with a bond of ${fmt(minBond + 1n)}: ${outbid ?? "admitted, evicting the smallest-bonded sybil"}`,
  });
}
