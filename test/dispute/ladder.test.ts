/**
 * Deep hiding (PROTOCOL §7.5): a cheating prover computes the step honestly except for ONE
 * element of one tensor, perturbed enough to change the step's output beyond tolerance, and
 * recomputes everything downstream consistently from it; its trace commits that wrong output
 * (block steps) or a next token only the perturbed logits allow (head step). It serves nothing
 * off-chain and answers every on-chain demand from the step it posted. The challenger must
 * win on every rung: every tensor of the §7.2 layout but the free shift M, and every tensor of
 * the head step. Also: the agent cancels a dispute on a job another dispute has slashed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { judgeClaim, type Claim } from "../../protocol/evaluator/judge.js";
import { HEAD_TENSORS, opOf, shape, STEP_TENSORS, T, OP_NAMES } from "../../protocol/evaluator/layout.js";
import { nextMove, Phase } from "../../protocol/dispute/agent.js";
import { buildStep, type StepTamper } from "../../protocol/dispute/step.js";
import { chunkReader, judgeContext, stepTree, type DisputeData } from "../../protocol/dispute/proofs.js";
import { traceTree } from "../../protocol/dispute/model.js";
import { toHalfBits, valueAt } from "../../protocol/dispute/tensors.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { BOND, deployGame, setupJob, solvency, type Deployed } from "./chain.js";
import { chainView, play, revealedChunks, send } from "./play.js";
import { rowSlack } from "../../bench/adversary/cheats.js";

const POS = 3;
const BLOCK = 2;
const HEAD = 3; // L + 1 for the fixture's L = 2
const honest = tinyData({ tokens: 6, seed: 3 });

type Rung = { layer: number; tensor: number };
const rungs: Rung[] = [
  // M is free (the Z ≥ 1 rule covers it); OUT_ERR_PART feeds no output, its rung is the row-bound one below.
  ...STEP_TENSORS.filter((t) => t !== T.M && t !== T.OUT_ERR_PART).map((tensor) => ({ layer: BLOCK, tensor })),
  ...HEAD_TENSORS.map((tensor) => ({ layer: HEAD, tensor })),
];
const name = (r: Rung) => `${r.layer === HEAD ? "head" : "block"} ${Object.entries(T).find(([, v]) => v === r.tensor)![0]}`;

const judgeWith = (data: DisputeData, layer: number, claim: Claim) =>
  judgeClaim(judgeContext(data, POS, layer, tolerances()[opOf(claim.tensor, layer, data.arch.layers)]!), claim, chunkReader(data));

/** The cheater's data for a rung: one perturbed element, consistent downstream, committed output. */
function cheat(r: Rung, extra?: StepTamper, only?: Claim): { data: DisputeData; element: Claim } | undefined {
  const own = withStep(honest, POS, r.layer);
  const m = own.step!.dims;
  const [rows, len] = shape(m, r.tensor);
  const elements: Claim[] = only ? [only] : [
    { tensor: r.tensor, row: rows - 1, col: 0 },
    { tensor: r.tensor, row: rows - 1, col: len - 1 },
    { tensor: r.tensor, row: 0, col: 0 },
    { tensor: r.tensor, row: Math.floor(rows / 2), col: Math.floor(len / 2) },
  ];
  for (const element of elements) {
    const v = valueAt(own.step!.tensors.get(r.tensor)!, element.row, element.col);
    for (let k = 0; k <= 40; k += 2) {
      for (const sign of [1, -1]) {
        const tamper: StepTamper = (id, t, row, col) => {
          extra?.(id, t, row, col);
          if (id === element.tensor && row === element.row && col === element.col) t.data[row * t.rowLength + col] = v + sign * (Math.abs(v) + 1) * 2 ** k;
        };
        const step = buildStep(honest.arch, honest.weights, honest.trace, POS, r.layer, honest.encoding.chunkSize, tamper);
        const data = r.layer === HEAD ? commitToken(step) : commitOutput(step);
        if (!data) continue;
        const withS: DisputeData = { ...data, step, stepTree: stepTree(step) };
        // The single inconsistency is the perturbed element itself…
        if (!judgeWith(withS, r.layer, element).fraud) continue;
        // …and the committed output is refuted by an honest recomputation.
        const refuted = r.layer === HEAD
          ? Array.from({ length: honest.arch.vocab }, (_, j) => j).some((j) => judgeWith({ ...withStep(data, POS, HEAD) }, HEAD, { tensor: T.ARGMAX, row: 0, col: j }).fraud)
          : Array.from({ length: honest.arch.hidden }, (_, i) => i).some((i) => judgeWith(withStep(data, POS, BLOCK), BLOCK, { tensor: T.OUT, row: 0, col: i }).fraud);
        if (refuted) return { data: withS, element };
      }
    }
  }
  return undefined;
}

/** Block step: the trace commits the perturbed step's X1 + Y_D as h[t][l] (binary16, in range). */
function commitOutput(step: ReturnType<typeof buildStep>): DisputeData | undefined {
  const hidden = honest.trace.hidden.slice();
  const h = hidden[BLOCK]!;
  const data = h.data.slice();
  for (let i = 0; i < honest.arch.hidden; i++) {
    const out = valueAt(step.tensors.get(T.X1)!, 0, i) + valueAt(step.tensors.get(T.Y_D)!, 0, i);
    if (!(Math.abs(out) < 60_000)) return undefined;
    data[POS * h.rowLength + i] = toHalfBits(out);
  }
  hidden[BLOCK] = { ...h, data };
  const trace = { ...honest.trace, hidden };
  return { ...honest, trace, traceTree: traceTree(trace, honest.encoding.chunkSize) };
}

/** Head step: the trace commits a next token the perturbed logits admit (no ARGMAX claim beats it) and honest ones refute. */
function commitToken(step: ReturnType<typeof buildStep>): DisputeData | undefined {
  const vocab = honest.arch.vocab;
  const logits = step.tensors.get(T.LOGIT)!;
  // Only the top of the perturbed logits can be admitted: try those first.
  const order = Array.from({ length: vocab }, (_, j) => j).sort((a, b) => valueAt(logits, 0, b) - valueAt(logits, 0, a) || a - b);
  for (const tok of order.slice(0, 4)) {
    if (tok === honest.trace.tokens[POS + 1]) continue;
    const tokens = honest.trace.tokens.slice();
    tokens[POS + 1] = tok;
    const trace = { ...honest.trace, tokens };
    const data: DisputeData = { ...honest, trace, traceTree: traceTree(trace, honest.encoding.chunkSize) };
    const theirs: DisputeData = { ...data, step, stepTree: stepTree(step) };
    const admitted = order.every((j) => !judgeWith(theirs, HEAD, { tensor: T.ARGMAX, row: 0, col: j }).fraud);
    if (admitted) return data;
  }
  return undefined;
}

describe("deep hiding: one inconsistency anywhere in the step, no off-chain data", () => {
  let d: Deployed;
  let job = 100n;
  const results: string[] = [];

  beforeAll(async () => {
    d = await deployGame();
  });
  afterAll(() => {
    console.log(["rung | element | rounds | txs | max gas | dispute gas", ...results].join("\n"));
  });

  it.each(rungs.map((r) => [name(r), r] as const))("%s: the challenger wins", async (_, r) => {
    const c = cheat(r);
    expect(c, `no single-element perturbation of ${name(r)} changes the output`).toBeDefined();
    const { data, element } = c!;
    const committed: DisputeData = { ...data, step: undefined, stepTree: undefined };
    const jobId = job++;
    await setupJob(d, committed, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, r.layer], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, r.layer, d.challenger.account.address])) as Hex;
    const result = await play(d, id, {
      prover: async () => ({ data }),
      challenger: async () => ({ data: committed, revealed: await revealedChunks(d, id) }),
    });
    expect(result.phase, result.kinds.join(", ")).toBe(Phase.ChallengerWon);
    expect(result.kinds.at(-1)).toBe("challenger:proveFraud");
    expect(result.maxGas).toBeLessThan(2_000_000n);
    const proven = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "FraudProven", args: { disputeId: id }, fromBlock: 0n });
    const at = proven[0]?.args as { tensor: bigint; row: bigint; col: bigint; op: number } | undefined;
    results.push(`${name(r)} | (${element.row}, ${element.col}) → proved ${at ? `${at.tensor}:${at.row}:${at.col} ${OP_NAMES[at.op]}` : "malformed"} | ${result.rounds} | ${result.kinds.length} | ${result.maxGas} | ${result.gas}`);
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  });
});

/** Rungs on the K/V branch of an earlier position p = 0 (its norm, projections, RoPE and scores). */
const early: Claim[] = [
  { tensor: T.SS1_PART, row: 0, col: 0 },
  { tensor: T.R1, row: 0, col: 0 },
  { tensor: T.N1, row: 0, col: 1 },
  { tensor: T.K_PART, row: 0, col: 0 },
  { tensor: T.K_PRE, row: 0, col: 1 },
  { tensor: T.K, row: 1, col: 2 },
  { tensor: T.V_PART, row: 3, col: 1 },
  { tensor: T.V_T, row: 3, col: 0 },
  { tensor: T.S_PART, row: 0, col: 0 },
  { tensor: T.S, row: 1, col: 0 },
  { tensor: T.E, row: 2, col: 0 },
];

describe("deep hiding at an earlier position (p = 0 < t)", () => {
  let d: Deployed;
  let job = 500n;
  beforeAll(async () => {
    d = await deployGame();
  });
  it.each(early.map((e) => [`${Object.entries(T).find(([, v]) => v === e.tensor)![0]}[${e.row}][${e.col}]`, e] as const))("%s: the challenger wins", async (_, e) => {
    const c = cheat({ layer: BLOCK, tensor: e.tensor }, undefined, e);
    expect(c, "no perturbation of this element changes the output").toBeDefined();
    const committed: DisputeData = { ...c!.data, step: undefined, stepTree: undefined };
    const jobId = job++;
    await setupJob(d, committed, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, BLOCK], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([jobId, POS, BLOCK, d.challenger.account.address])) as Hex;
    const r = await play(d, id, { prover: async () => ({ data: c!.data }), challenger: async () => ({ data: committed, revealed: await revealedChunks(d, id) }) });
    expect(r.phase, r.kinds.join(", ")).toBe(Phase.ChallengerWon);
    const proven = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "FraudProven", args: { disputeId: id }, fromBlock: 0n });
    expect(Number(proven[0]!.args.tensor)).toBe(e.tensor);
  });
});

describe("a within-tolerance decoy", () => {
  it("every X1 element bent by 0.9 of its bound (legal) does not divert the descent from a wrong D_PART", async () => {
    const d = await deployGame();
    // X1 = h[t][l−1] + Y_O within tolerance, but each element off our value by 0.9 bound: the
    // most upstream deviating input of OUT, and a dead end. The real inconsistency is in D_PART.
    const rtol = 2 ** -16;
    const atol = 2 ** -30;
    const x0 = honest.trace.hidden[BLOCK - 1]!;
    const decoy: StepTamper = (id, t, row, col) => {
      if (id !== T.X1) return;
      const i = row * t.rowLength + col;
      const x = valueAt(x0, POS, col);
      const y = t.data[i]! - x;
      t.data[i] = t.data[i]! + 0.9 * (atol + rtol * (Math.abs(x) + Math.abs(y)));
    };
    const c = cheat({ layer: BLOCK, tensor: T.D_PART }, decoy)!;
    expect(c).toBeDefined();
    const committed: DisputeData = { ...c.data, step: undefined, stepTree: undefined };
    await setupJob(d, committed, tolerances(), { jobId: 1n });
    await d.game.write.openDispute([1n, POS, BLOCK], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([1n, POS, BLOCK, d.challenger.account.address])) as Hex;
    const r = await play(d, id, { prover: async () => ({ data: c.data }), challenger: async () => ({ data: committed, revealed: await revealedChunks(d, id) }) });
    expect(r.phase).toBe(Phase.ChallengerWon);
    const proven = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "FraudProven", args: { disputeId: id }, fromBlock: 0n });
    expect(Number(proven[0]!.args.tensor)).toBe(T.D_PART);
  });
});

describe("trace inputs without proofs", () => {
  it("a challenger lacking the trace rows' proofs demands them with the step leaves and still wins", async () => {
    const d = await deployGame();
    const c = cheat({ layer: BLOCK, tensor: T.SS1_PART })!;
    const committed: DisputeData = { ...c.data, step: undefined, stepTree: undefined };
    await setupJob(d, committed, tolerances(), { jobId: 1n });
    await d.game.write.openDispute([1n, POS, BLOCK], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([1n, POS, BLOCK, d.challenger.account.address])) as Hex;
    const r = await play(d, id, {
      prover: async () => ({ data: c.data }),
      challenger: async () => ({ data: committed, revealed: await revealedChunks(d, id), traceMissing: () => true }),
    });
    expect(r.phase).toBe(Phase.ChallengerWon);
    const demanded = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "ChunksDemanded", args: { disputeId: id }, fromBlock: 0n });
    const sources = demanded.flatMap((l) => l.args.leaves!.map((x) => `${x.src}:${x.tensor}`));
    expect(sources).toContain(`0:${BLOCK}`); // h[t][l] for the OUT claim
    expect(sources).toContain(`0:${BLOCK - 1}`); // h[p][l-1] for X1, N1 and SS1_PART
  });
});

describe("a job slashed by another dispute", () => {
  it("the agent cancels instead of letting an unrefutable root take the bond", async () => {
    const d = await deployGame();
    // The job's output at (POS, BLOCK) is wrong; the challenger also disputed the honest step (POS, 1).
    const c = cheat({ layer: BLOCK, tensor: T.X1 })!;
    const committed: DisputeData = { ...c.data, step: undefined, stepTree: undefined };
    await setupJob(d, committed, tolerances(), { jobId: 1n });
    await d.game.write.openDispute([1n, POS, 1], { account: d.challenger.account });
    const mine = (await d.game.read.disputeIdOf([1n, POS, 1, d.challenger.account.address])) as Hex;
    // The prover posts the honest (unrefutable) root of layer 1: the challenger's clock runs.
    const layer1 = withStep(committed, POS, 1);
    await d.game.write.postStepRoot([mine, layer1.stepTree!.root], { account: d.prover.account });
    // Another challenger proves the fraud at layer 2 through its own dispute: the job is slashed.
    await d.game.write.openDispute([1n, POS, BLOCK], { account: d.other.account });
    const theirs = (await d.game.read.disputeIdOf([1n, POS, BLOCK, d.other.account.address])) as Hex;
    await d.game.write.postStepRoot([theirs, c.data.stepTree!.root], { account: d.prover.account });
    expect((await d.escrow.read.getJob([1n])).status).toBe(2);
    const other = { ...d, challenger: d.other };
    const won = await play(other, theirs, { prover: async () => ({ data: c.data }), challenger: async () => ({ data: committed, revealed: await revealedChunks(d, theirs) }) });
    expect(won.phase).toBe(Phase.ChallengerWon);
    expect((await d.escrow.read.getJob([1n])).status).toBe(5); // Slashed

    // Both roles now see cancelAfterSlash as the move, whoever's turn it is.
    const view = await chainView(d, mine);
    expect(nextMove("challenger", view, { data: committed })?.kind).toBe("cancelAfterSlash");
    expect(nextMove("prover", view, { data: layer1 })?.kind).toBe("cancelAfterSlash");
    const before = await d.game.read.credits([d.challenger.account.address]);
    await send(d, "challenger", nextMove("challenger", view, { data: committed })!);
    expect((await d.game.read.getDispute([mine])).phase).toBe(Phase.Cancelled);
    expect(await d.game.read.credits([d.challenger.account.address])).toBe(before + BOND);
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  });
});

describe("deep hiding behind the row bound (OUT_ERR_PART)", () => {
  it("every output element within its own bound, the row beyond it, the error partials understated: the challenger wins", async () => {
    const d = await deployGame();
    // The cheater moves every element of h[t][l] by 0.7 of its LAYER_OUT bound (no per-element
    // claim is provable) and commits zero squared-error partials so that OUT_ROW passes on its
    // own root. Nothing is served off-chain.
    const cheat = rowSlack(honest, POS, BLOCK)!;
    const { committed, prover: data } = cheat;
    expect(judgeWith(data, BLOCK, { tensor: T.OUT_ROW, row: 0, col: 0 }).fraud).toBe(false);
    expect(judgeWith(withStep(committed, POS, BLOCK), BLOCK, { tensor: T.OUT_ROW, row: 0, col: 0 }).fraud).toBe(true);
    await setupJob(d, committed, tolerances(), { jobId: 1n });
    await d.game.write.openDispute([1n, POS, BLOCK], { account: d.challenger.account });
    const id = (await d.game.read.disputeIdOf([1n, POS, BLOCK, d.challenger.account.address])) as Hex;
    const r = await play(d, id, { prover: async () => ({ data }), challenger: async () => ({ data: committed, revealed: await revealedChunks(d, id) }) });
    expect(r.phase, r.kinds.join(", ")).toBe(Phase.ChallengerWon);
    const proven = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "FraudProven", args: { disputeId: id }, fromBlock: 0n });
    expect(Number(proven[0]!.args.tensor)).toBe(T.OUT_ERR_PART);
  });
});
