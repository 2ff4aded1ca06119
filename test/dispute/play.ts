/**
 * Drives whole disputes on EDR with the stateless agent: each loop re-reads the chain (the
 * dispute, its outstanding demand, the job's status), asks `nextMove` for both sides and sends
 * what is due, advancing time when both wait.
 */
import type { Hex } from "viem";
import { nextMove, Phase, type ChainDispute, type Disk, type Move, type Role } from "../../protocol/dispute/agent.js";
import { fromLeafArg, leafKey } from "../../protocol/dispute/demand.js";
import type { Opening } from "../../protocol/dispute/proofs.js";
import { tolerances } from "./fixture.js";
import type { Deployed } from "./chain.js";

export async function chainView(d: Deployed, id: Hex): Promise<ChainDispute> {
  const x = await d.game.read.getDispute([id]);
  const now = BigInt((await d.publicClient.getBlock()).timestamp);
  const job = await d.escrow.read.getJob([x.jobId]);
  let leaves: ChainDispute["demand"]["leaves"] = [];
  if (x.phase === Phase.AwaitingData) {
    const logs = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "ChunksDemanded", args: { disputeId: id }, fromBlock: 0n });
    leaves = (logs.at(-1)!.args as { leaves: { src: number; tensor: bigint; row: bigint; chunk: bigint }[] }).leaves.map(fromLeafArg);
  }
  return {
    id,
    phase: x.phase,
    position: x.position,
    layer: x.layer,
    stepRoot: x.stepRoot,
    turnStartedAt: x.turnStartedAt,
    proverClockLeft: x.proverClockLeft,
    challengerClockLeft: x.challengerClockLeft,
    roundsUsed: x.roundsUsed,
    maxRounds: await d.game.read.MAX_DEMAND_ROUNDS(),
    maxLeaves: await d.game.read.MAX_LEAVES_PER_DEMAND(),
    demand: { leaves, revealedMask: x.revealedMask },
    jobStatus: job.status,
    now,
    tolerances: tolerances(),
  };
}

/** Revealed chunks from ChunksRevealed logs: what a challenger reads back after its demands. */
export async function revealedChunks(d: Deployed, id: Hex): Promise<Map<string, Opening>> {
  const logs = await d.publicClient.getContractEvents({ address: d.game.address, abi: d.game.abi, eventName: "ChunksRevealed", args: { disputeId: id }, fromBlock: 0n });
  const m = new Map<string, Opening>();
  for (const l of logs) {
    const a = l.args as { leaves: { src: number; tensor: bigint; row: bigint; chunk: bigint }[]; data: Hex[]; proofs: Hex[][] };
    a.leaves.forEach((leaf, i) => {
      if (a.data[i] !== "0x") m.set(leafKey(leaf.src, Number(leaf.tensor), Number(leaf.row), Number(leaf.chunk)), { chunk: a.data[i]!, proof: [...a.proofs[i]!] });
    });
  }
  return m;
}

export async function send(d: Deployed, role: Role, move: Move): Promise<bigint> {
  const account = role === "prover" ? d.prover.account : d.challenger.account;
  const w = d.game.write as unknown as Record<string, (args: unknown, o: unknown) => Promise<Hex>>;
  if (move.kind === "wait") return 0n;
  const hash = await w[move.kind]!(move.args, { account });
  return (await d.publicClient.waitForTransactionReceipt({ hash })).gasUsed;
}

export type PlayResult = { phase: number; kinds: string[]; rounds: number; maxGas: bigint; gas: bigint };

/** Play to the end; `before` runs ahead of each loop (e.g. another dispute slashing the job). */
export async function play(d: Deployed, id: Hex, disks: Record<Role, () => Promise<Disk>>, opts: { maxLoops?: number; before?: (c: ChainDispute) => Promise<void> } = {}): Promise<PlayResult> {
  const kinds: string[] = [];
  let maxGas = 0n;
  let gas = 0n;
  for (let i = 0; i < (opts.maxLoops ?? 120); i++) {
    let c = await chainView(d, id);
    if (opts.before) {
      await opts.before(c);
      c = await chainView(d, id);
    }
    if (c.phase >= Phase.ProverWon) return { phase: c.phase, kinds, rounds: c.roundsUsed, maxGas, gas };
    const moves: [Role, Move | undefined][] = [
      ["prover", nextMove("prover", c, await disks.prover())],
      ["challenger", nextMove("challenger", c, await disks.challenger())],
    ];
    const due = moves.find(([, m]) => m && m.kind !== "wait");
    if (due) {
      kinds.push(`${due[0]}:${due[1]!.kind}`);
      const used = await send(d, due[0], due[1]!);
      gas += used;
      if (used > maxGas) maxGas = used;
    } else {
      const until = moves.map(([, m]) => (m?.kind === "wait" ? m.until : 2n ** 64n)).reduce((a, b) => (a < b ? a : b));
      await d.networkHelpers.time.increaseTo(until > c.now ? until : c.now + 1n);
    }
  }
  throw new Error(`dispute did not end: ${kinds.join(", ")}`);
}
