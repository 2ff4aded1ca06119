import { maxUint256, type Hex } from "viem";
import { stepProofGameAbi, testTokenAbi } from "../chain/generated/abi.js";
import type { StepproofClients } from "../chain/client.js";
import { sendContractTransaction } from "../chain/actions/send.js";
import type { Move } from "../dispute/agent.js";

/** A move other than `wait`: one call into the step-proof game. */
export type GameMove = Exclude<Move, { kind: "wait" }>;

/** Sends a move and returns its transaction's hash: sendMove's own once mined (a revert throws), the prover node's once broadcast. */
export type MoveSender = (move: GameMove) => Promise<Hex>;

/** The game call a move is (what a sender simulates, signs and sends). */
export function moveCall(clients: StepproofClients, move: GameMove) {
  return {
    address: clients.deployment.contracts.stepProofGame,
    abi: stepProofGameAbi,
    functionName: move.kind,
    args: move.args as readonly unknown[],
    what: `${move.kind} in dispute ${move.args[0]}`,
  };
}

/** Send the agent's move; `wait` sends nothing. Simulation first, so a stale move reverts locally. */
export async function sendMove(clients: StepproofClients, move: Move, send?: MoveSender): Promise<Hex | undefined> {
  if (move.kind === "wait") return undefined;
  if (send) return send(move);
  const { hash } = await sendContractTransaction(clients, moveCall(clients, move));
  return hash;
}

/** Open a dispute on step (position, layer) of a job, approving the bond first if needed. */
export async function openDispute(clients: StepproofClients, p: { jobId: bigint; position: number; layer: number }): Promise<Hex> {
  const { stepProofGame: game, token } = clients.deployment.contracts;
  const me = clients.walletClient!.account.address;
  // The bond scales with the job's escrow (PROTOCOL §9.5).
  const bond = await clients.publicClient.readContract({ address: game, abi: stepProofGameAbi, functionName: "bondFor", args: [p.jobId] });
  const allowance = await clients.publicClient.readContract({ address: token, abi: testTokenAbi, functionName: "allowance", args: [me, game] });
  if (allowance < bond) await sendContractTransaction(clients, { address: token, abi: testTokenAbi, functionName: "approve", args: [game, maxUint256], what: "approve the dispute bond" });
  const id = await clients.publicClient.readContract({ address: game, abi: stepProofGameAbi, functionName: "disputeIdOf", args: [p.jobId, p.position, p.layer, me] });
  const existing = await clients.publicClient.readContract({ address: game, abi: stepProofGameAbi, functionName: "getDispute", args: [id] });
  // Content-derived ids make opening idempotent: an open (or finished) dispute is not reopened.
  if (existing.phase !== 0) return id;
  await sendContractTransaction(clients, { address: game, abi: stepProofGameAbi, functionName: "openDispute", args: [p.jobId, p.position, p.layer], what: `open a dispute on job ${p.jobId} step (${p.position}, ${p.layer})` });
  return id;
}
