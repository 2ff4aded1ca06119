/**
 * Attacks on the fraud penalty (PROTOCOL §9.4): a caught cheater that goes on taking jobs, a
 * prover that takes more open escrow than its stake can answer for, and one that unbonds its
 * stake once its jobs are open so the slash finds nothing. Each row names the rule that stops it.
 */
import { parseEther } from "viem";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { unbond } from "../../protocol/chain/actions/unbond.js";
import { auditManagerAbi, jobEscrowAbi, nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { Phase } from "../../protocol/dispute/agent.js";
import { bumpElement, locate } from "./cheats.js";
import { blockNumber, collectGas, commitFor, honestData, openFor, promptOf, type World } from "./env.js";
import { addressOf, commitCorrupted, fmt, NEW, nodeOf, P, proveCorruption, revertOf, revertWith, slashOf } from "./incentives-world.js";
import { Ledger, type AttackRow } from "./report.js";

const BPS = 10_000n;

async function fraudPenalty(w: World): Promise<{ shareBps: bigint; jailPeriod: bigint }> {
  const c = w.as.governance;
  const [share, jail] = await c.publicClient.readContract({ address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "fraudPenalty" });
  return { shareBps: BigInt(share), jailPeriod: BigInt(jail) };
}

async function collateralOf(w: World, jobId: bigint): Promise<bigint> {
  const c = w.as.governance;
  return (await c.publicClient.readContract({ address: c.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] })).collateral;
}

/**
 * jailed-prover-takes-job: after a proven fraud the cheater is offered a new job at once (no
 * parole). Rules: the slash takes the job's collateral K plus `slashShareBps` of the free and
 * unbonding stake left (NodeRegistry.slashStake), and `lockCollateral` reverts `Jailed` until
 * the jail ends (§9.4) — without it the cheater would go on serving the next client.
 */
export async function jailedProverTakesJob(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const cheater = addressOf(w, "cheater");
  const job = await commitCorrupted(w, { seed: 71 });
  const K = await collateralOf(w, job.jobId);
  const before = await nodeOf(w, cheater);
  const { shareBps, jailPeriod } = await fraudPenalty(w);
  const played = await proveCorruption(w, job, "verifier");
  const slashedAt = await w.now();
  const after = await nodeOf(w, cheater);
  const s = await slashOf(w, job.jobId);
  // §9.4: K, then the share of what remains free (stake − K − (locked − K)) and of what is unbonding.
  const fromFree = ((before.stake - before.locked) * shareBps) / BPS;
  const fromUnbonding = (before.unbonding * shareBps) / BPS;
  const expected = K + fromFree + fromUnbonding;
  const numbersHold = s.slashed === expected && after.stake === before.stake - K - fromFree && after.unbonding === before.unbonding - fromUnbonding && after.jailedUntil === slashedAt + jailPeriod;
  const prompt = promptOf(72, P);
  const open = await revertOf(() => openJob(w.as.client, { prover: cheater, modelId: w.modelId, promptRoot: tokenRoot(prompt, 0), inputTokens: P, maxOutputTokens: NEW }));
  await collectGas(w, ledger, from);
  return ledger.row("jailed-prover-takes-job", {
    cheaterWon: open !== "Jailed" || !numbersHold,
    honestLost: played.phase !== Phase.ChallengerWon,
    outcome: `slashed ${fmt(s.slashed)} = K ${fmt(K)} + ${Number(shareBps) / 100}% of free ${fmt(before.stake - before.locked)} (${fmt(fromFree)}) + of unbonding ${fmt(before.unbonding)}${numbersHold ? "" : ` — expected ${fmt(expected)}, stake ${fmt(before.stake)} → ${fmt(after.stake)}`}; jailed ${Number(jailPeriod) / 86_400} days; a new job: ${open ?? "opened"}`,
  });
}

/**
 * exposure-over-limit and unbond-after-open, played by a prover with the minimum stake and a
 * high price: a second open job would put more escrow at stake than p·s·F/D (§9.4) allows, and
 * after its first job opened it unbonds every free token before committing a corrupted trace.
 * Rules: InsufficientDeterrence (JobEscrow._addExposure) — without it the open escrow could
 * exceed what a slash at the protocol's detection probability takes back tenfold — and the
 * slash of unbonding stake by the same share (NodeRegistry.slashStake) within `unbondingDelay`,
 * without which unbonding would empty the stake the limit was computed from.
 */
export async function exposureAttacks(w: World): Promise<AttackRow[]> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const small = addressOf(w, "smallProver");
  const c = w.as.governance;
  const minStake = await c.publicClient.readContract({ address: c.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "minProverStake" });
  const price = parseEther("0.2");
  await registerNode(w.as.smallProver, { role: "prover", stake: minStake, endpoint: "http://127.0.0.1/smallProver", offers: [{ modelId: w.modelId, inputPrice: price, outputPrice: price }] });
  const prompt = promptOf(73, P);
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  const first = await openFor(w, { prover: "smallProver", prompt, maxOutputTokens: NEW });
  const opened = await nodeOf(w, small);
  const freeAtOpen = opened.stake - opened.locked;
  // What the second job would need: the exposure limit at the free stake left after its collateral.
  const cost = BigInt(P + NEW) * price;
  const secondCollateral = await collateralOf(w, first); // the same terms, so the same collateral
  const limit = await c.publicClient.readContract({ address: c.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [w.modelId, freeAtOpen - secondCollateral] });
  const second = await revertWith(() => openFor(w, { prover: "smallProver", prompt: promptOf(74, P), maxOutputTokens: NEW }));
  const [, exposure, reportedLimit] = second.args as [unknown, bigint, bigint];
  await collectGas(w, ledger, from);
  const overLimit = ledger.row("exposure-over-limit", {
    cheaterWon: second.name !== "InsufficientDeterrence" || exposure !== 2n * cost || reportedLimit !== limit,
    honestLost: false,
    outcome: `stake ${fmt(minStake)}, job of ${fmt(cost)} open; a second: ${second.name ?? "opened"}(exposure ${fmt(exposure ?? 0n)}, limit ${fmt(reportedLimit ?? 0n)} = p·s·F/10 with F ${fmt(freeAtOpen - secondCollateral)})`,
  });

  const unbondLedger = new Ledger();
  const unbondFrom = await blockNumber(w);
  await unbond(w.as.smallProver, { action: "request", amount: freeAtOpen });
  await commitFor(w, { prover: "smallProver", jobId: first, inputTokens: P, data: committed });
  const step = locate(committed, { inputTokens: P, samplingParams: 0n })!;
  const played = await proveCorruption(w, { jobId: first, committed, step }, "verifier", undefined, "smallProver");
  const { shareBps } = await fraudPenalty(w);
  const K = await collateralOf(w, first);
  const s = await slashOf(w, first);
  const withdraw = await revertOf(() => unbond(w.as.smallProver, { action: "withdraw" }));
  await collectGas(w, unbondLedger, unbondFrom);
  // §9.4's bound: the first slash takes at least s·(F + U) of the stake free when the job opened.
  const floor = K + (freeAtOpen * shareBps) / BPS;
  const unbondRow = unbondLedger.row("unbond-after-open", {
    cheaterWon: s.slashed < floor || withdraw !== "UnbondingNotReady",
    honestLost: played.phase !== Phase.ChallengerWon,
    outcome: `unbonded all ${fmt(freeAtOpen)} free after opening, then cheated: slashed ${fmt(s.slashed)} (K ${fmt(K)} + ${Number(shareBps) / 100}% of the unbonding stake; §9.4 floor ${fmt(floor)}); withdrawing: ${withdraw ?? "withdrawn"}`,
  });
  return [overLimit, unbondRow];
}
