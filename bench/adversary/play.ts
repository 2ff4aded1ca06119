/**
 * Plays one dispute to its end over JSON-RPC with the real agent (protocol/dispute/agent.ts)
 * and the nodes' own chain plumbing (protocol/game: readChainDispute, sendMove, revealedChunks):
 * each loop both sides read the chain, the side whose move is due sends it, and when both wait
 * the chain's clock is advanced to the earliest deadline.
 */
import type { Hex } from "viem";
import { nextMove, Phase, type Disk, type Move } from "../../protocol/dispute/agent.js";
import { readChainDispute } from "../../protocol/game/chain-dispute.js";
import { openDispute, sendMove } from "../../protocol/game/send-move.js";
import { revealedChunks } from "../../protocol/game/play.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { afterAuditPriority, type Role, type World } from "./env.js";

export type PlayOutcome = { disputeId: Hex; phase: number; moves: string[] };

export type Sides = {
  /** Who answers as the job's prover and what it holds (its own, possibly dishonest, step). */
  prover: { role: Role; disk: () => Promise<Disk> | Disk };
  /** Who challenges; its disk gets the chunks revealed on-chain so far. */
  challenger: { role: Role; data: DisputeData; traceMissing?: Disk["traceMissing"] };
};

/** `opened`: a dispute the challenger already opened (it is played from where it stands). */
export type DisputeSpec = { jobId: bigint; position: number; layer: number; opened?: Hex } & Sides;

export async function playDispute(w: World, p: DisputeSpec, opts: { maxLoops?: number } = {}): Promise<PlayOutcome> {
  return (await playDisputes(w, [p], opts))[0]!;
}

/**
 * Plays several disputes at once, as nodes do (each side moves in every dispute it is in before
 * anyone's clock is advanced): time only moves when every live dispute waits.
 */
export async function playDisputes(w: World, specs: DisputeSpec[], opts: { maxLoops?: number } = {}): Promise<PlayOutcome[]> {
  const ids: Hex[] = [];
  for (const p of specs) {
    if (p.opened) {
      ids.push(p.opened);
      continue;
    }
    await afterAuditPriority(w, p.jobId, p.challenger.role);
    ids.push(await openDispute(w.as[p.challenger.role], { jobId: p.jobId, position: p.position, layer: p.layer }));
  }
  const moves: string[][] = specs.map(() => []);
  const done: (number | undefined)[] = specs.map(() => undefined);
  for (let i = 0; i < (opts.maxLoops ?? 400); i++) {
    let sent = false;
    let until = 2n ** 64n;
    for (const [k, p] of specs.entries()) {
      if (done[k] !== undefined) continue;
      const challenger = w.as[p.challenger.role];
      const c = await readChainDispute(challenger, ids[k]!);
      if (c.phase >= Phase.ProverWon) {
        done[k] = c.phase;
        continue;
      }
      const challengerDisk: Disk = { data: p.challenger.data, revealed: await revealedChunks(challenger, ids[k]!), ...(p.challenger.traceMissing ? { traceMissing: p.challenger.traceMissing } : {}) };
      const due: [Role, Move | undefined][] = [
        [p.prover.role, nextMove("prover", c, await p.prover.disk())],
        [p.challenger.role, nextMove("challenger", c, challengerDisk)],
      ];
      const move = due.find(([, m]) => m && m.kind !== "wait");
      if (move) {
        moves[k]!.push(`${move[0] === p.challenger.role ? "challenger" : "prover"}:${move[1]!.kind}`);
        await sendMove(w.as[move[0]], move[1]!);
        sent = true;
      } else {
        for (const [, m] of due) if (m?.kind === "wait" && m.until < until) until = m.until;
      }
    }
    if (done.every((x) => x !== undefined)) return specs.map((_, k) => ({ disputeId: ids[k]!, phase: done[k]!, moves: moves[k]! }));
    if (!sent) {
      const now = await w.now();
      await w.warp(until > now ? until - now : 1n);
    }
  }
  throw new Error(`disputes did not end: ${moves.map((m) => m.join(" ")).join(" | ")}`);
}
