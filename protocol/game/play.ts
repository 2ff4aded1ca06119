import { parseAbiItem, type Hex } from "viem";
import type { StepproofClients } from "../chain/client.js";
import { nextMove, chunkKey, type Disk, type Move, type Role } from "../dispute/agent.js";
import type { Opening } from "../dispute/proofs.js";
import { readChainDispute } from "./chain-dispute.js";
import { sendMove } from "./send-move.js";

export type PlayReturnType = { disputeId: Hex; move: Move | undefined; tx?: Hex };

/**
 * One turn of one dispute for one side: read the dispute from chain, let the stateless agent
 * choose, send. Calling it again after a crash recomputes the same move, and a move already
 * made is simply no longer due (the game's phase moved on).
 */
export async function playTurn(clients: StepproofClients, role: Role, disputeId: Hex, disk: (c: Awaited<ReturnType<typeof readChainDispute>>) => Promise<Disk>): Promise<PlayReturnType> {
  const c = await readChainDispute(clients, disputeId);
  const move = nextMove(role, c, await disk(c));
  const tx = move ? await sendMove(clients, move) : undefined;
  return { disputeId, move, ...(tx ? { tx } : {}) };
}

const chunkRevealed = parseAbiItem("event ChunkRevealed(bytes32 indexed disputeId, uint256 tensor, uint256 row, uint256 chunk, bytes data, bytes32[] proof)");

/** Step chunks the prover revealed on-chain for a dispute (data availability, PROTOCOL §7.4). */
export async function revealedChunks(clients: StepproofClients, disputeId: Hex): Promise<Map<string, Opening>> {
  const logs = await clients.publicClient.getLogs({
    address: clients.deployment.contracts.stepProofGame,
    event: chunkRevealed,
    args: { disputeId },
    fromBlock: BigInt(clients.deployment.startBlock),
    toBlock: "latest",
  });
  const out = new Map<string, Opening>();
  for (const l of logs) out.set(chunkKey(Number(l.args.tensor), Number(l.args.row), Number(l.args.chunk)), { chunk: l.args.data!, proof: [...l.args.proof!] });
  return out;
}
