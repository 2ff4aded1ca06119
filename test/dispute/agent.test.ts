/**
 * The stateless agent drives whole disputes on EDR: each loop re-reads the chain, asks
 * `nextMove` for both sides and sends what is due. Covers a wrong trace proven from a served
 * step, the same proven through on-chain data-availability demands only, a cheater hiding the
 * error one operation deeper (found by descending with demands), and an honest prover winning.
 */
import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { nextMove, chunkKey, Phase, type ChainDispute, type Disk, type Move, type Role } from "../../protocol/dispute/agent.js";
import type { DisputeData, Opening } from "../../protocol/dispute/proofs.js";
import { T } from "../../protocol/evaluator/layout.js";
import { tinyData, tolerances, withStep } from "./fixture.js";
import { perturb, q48, verdictOf } from "./perturb.js";
import { deployGame, setupJob, solvency, type Deployed } from "./chain.js";

const POS = 3;
const LAYER = 2;

async function chainView(d: Deployed, id: Hex): Promise<ChainDispute> {
  const x = await d.game.read.getDispute([id]);
  const now = BigInt((await d.publicClient.getBlock()).timestamp);
  return {
    id,
    phase: x.phase,
    position: x.position,
    layer: x.layer,
    stepRoot: x.stepRoot,
    turnStartedAt: x.turnStartedAt,
    proverClockLeft: x.proverClockLeft,
    challengerClockLeft: x.challengerClockLeft,
    demandsUsed: x.demandsUsed,
    maxDemands: await d.game.read.MAX_DEMANDS(),
    demand: { tensor: Number(x.demandTensor), row: Number(x.demandRow), chunk: Number(x.demandChunk) },
    now,
    tolerances: tolerances(),
  };
}

/** Revealed chunks from ChunkRevealed logs: what a challenger reads back after its demands. */
async function revealedChunks(d: Deployed, id: Hex): Promise<Map<string, Opening>> {
  const logs = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "ChunkRevealed", args: { disputeId: id }, fromBlock: 0n });
  const m = new Map<string, Opening>();
  for (const l of logs) {
    const a = l.args as { tensor: bigint; row: bigint; chunk: bigint; data: Hex; proof: Hex[] };
    m.set(chunkKey(Number(a.tensor), Number(a.row), Number(a.chunk)), { chunk: a.data, proof: [...a.proof] });
  }
  return m;
}

async function send(d: Deployed, role: Role, move: Move) {
  const account = role === "prover" ? d.prover.account : d.challenger.account;
  const w = d.game.write as unknown as Record<string, (args: unknown, o: unknown) => Promise<Hex>>;
  if (move.kind === "wait") return;
  await w[move.kind]!(move.args, { account });
}

/** Play to the end. `prover` may be replaced by a cheater's move function. */
async function play(d: Deployed, id: Hex, disks: Record<Role, () => Promise<Disk>>, proverOverride?: (c: ChainDispute) => Move | undefined) {
  const kinds: string[] = [];
  for (let i = 0; i < 40; i++) {
    const c = await chainView(d, id);
    if (c.phase >= Phase.ProverWon) return { phase: c.phase, kinds };
    const moves: [Role, Move | undefined][] = [
      ["prover", proverOverride?.(c) ?? nextMove("prover", c, await disks.prover())],
      ["challenger", nextMove("challenger", c, await disks.challenger())],
    ];
    const due = moves.find(([, m]) => m && m.kind !== "wait");
    if (due) {
      kinds.push(`${due[0]}:${due[1]!.kind}`);
      await send(d, due[0], due[1]!);
    } else {
      const until = moves.map(([, m]) => (m?.kind === "wait" ? m.until : 2n ** 64n)).reduce((a, b) => (a < b ? a : b));
      await d.networkHelpers.time.increaseTo(until > c.now ? until : c.now + 1n);
    }
  }
  throw new Error("dispute did not end");
}

describe("stateless agent drives disputes", () => {
  const honest = tinyData({ tokens: 6, seed: 3 });
  const claimOut = { tensor: T.OUT, row: 0, col: 7 };
  const honestStep = withStep(honest, POS, LAYER);
  const v = verdictOf(honestStep, POS, LAYER, claimOut);
  // The prover's committed trace has a wrong h[t][l] element.
  const badTrace = perturb(honestStep, POS, LAYER, claimOut, 4 * q48(v.bound) + 0.05);
  const badData: DisputeData = { ...badTrace, step: undefined, stepTree: undefined };
  let job = 1n;

  async function start(d: Deployed, data: DisputeData) {
    const jobId = job++;
    await setupJob(d, data, tolerances(), { jobId });
    await d.game.write.openDispute([jobId, POS, LAYER], { account: d.challenger.account });
    return (await d.game.read.disputeIdOf([jobId, POS, LAYER, d.challenger.account.address])) as Hex;
  }

  it("wrong trace, step served off-chain: challenger proves LAYER_OUT", async () => {
    const d = await deployGame();
    const id = await start(d, badData);
    const served = withStep(badData, POS, LAYER).step!;
    const r = await play(d, id, { prover: async () => ({ data: badData }), challenger: async () => ({ data: badData, servedStep: served }) });
    expect(r.phase).toBe(Phase.ChallengerWon);
    expect(r.kinds).toEqual(["prover:postStepRoot", "challenger:proveFraud"]);
    expect(await d.escrow.read.faultResolutions()).toBe(1n);
  });

  it("wrong trace, prover serves nothing: challenger wins through on-chain demands", async () => {
    const d = await deployGame();
    const id = await start(d, badData);
    const r = await play(d, id, {
      prover: async () => ({ data: badData }),
      challenger: async () => ({ data: badData, stepChunks: await revealedChunks(d, id) }),
    });
    expect(r.phase).toBe(Phase.ChallengerWon);
    expect(r.kinds.filter((k) => k === "challenger:demandChunk").length).toBeGreaterThan(0);
    expect(r.kinds.at(-1)).toBe("challenger:proveFraud");
  });

  it("a cheater hides the error one op deeper (Y_D): the demand descent still finds it", async () => {
    const d = await deployGame();
    // The cheater's step makes X1 + Y_D match its wrong output by bending Y_D[7].
    const stepBad = withStep(badData, POS, LAYER);
    const bent = perturb(stepBad, POS, LAYER, { tensor: T.Y_D, row: 0, col: 7 }, 4 * q48(v.bound) + 0.05);
    const id = await start(d, badData);
    const cheater = (c: ChainDispute): Move | undefined => {
      if (c.phase === Phase.AwaitingStepRoot) return { kind: "postStepRoot", args: [c.id, bent.stepTree!.root] };
      if (c.phase === Phase.AwaitingData) {
        const t = bent.step!.tensors.get(c.demand.tensor)!;
        const C = bent.encoding.chunkSize;
        const s = (t.data as Float32Array).slice(c.demand.row * t.rowLength + c.demand.chunk * C, c.demand.row * t.rowLength + Math.min((c.demand.chunk + 1) * C, t.rowLength));
        return { kind: "revealChunk", args: [c.id, `0x${Buffer.from(s.buffer).toString("hex")}`, bent.stepTree!.proof(c.demand.tensor, c.demand.row, c.demand.chunk)] };
      }
      return nextMove("prover", c, { data: badData });
    };
    const r = await play(d, id, { prover: async () => ({ data: badData }), challenger: async () => ({ data: badData, stepChunks: await revealedChunks(d, id) }) }, cheater);
    expect(r.phase).toBe(Phase.ChallengerWon);
  });

  it("honest prover: the challenger finds nothing and the prover wins on the challenger's clock", async () => {
    const d = await deployGame();
    const id = await start(d, honest);
    const r = await play(d, id, { prover: async () => ({ data: honest }), challenger: async () => ({ data: honest, servedStep: honestStep.step! }) });
    expect(r.phase).toBe(Phase.ProverWon);
    expect(r.kinds).toEqual(["prover:postStepRoot", "prover:claimTimeout"]);
    const { balance, owed } = await solvency(d);
    expect(balance).toBe(owed);
  });
});
