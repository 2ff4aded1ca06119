import { parseAbiItem, type Hex } from "viem";
import type { StepproofClients } from "../chain/client.js";
import { nextMove, type Disk, type Move, type Role } from "../dispute/agent.js";
import { leafKey } from "../dispute/demand.js";
import type { Opening } from "../dispute/proofs.js";
import { readChainDispute, type DisputeLogsFrom } from "./chain-dispute.js";
import { getLogsInRanges } from "../chain/logs-in-ranges.js";
import { sendMove, type MoveSender } from "./send-move.js";

export type PlayReturnType = { disputeId: Hex; move: Move | undefined; tx?: Hex };

/**
 * One turn of one dispute for one side: read the dispute from chain, let the stateless agent
 * choose, send. Calling it again after a crash recomputes the same move, and a move already
 * made is simply no longer due (the game's phase moved on). `send`: how a move goes out (the
 * prover node's persisted sender; default a plain send through the clients' wallet).
 */
export async function playTurn(clients: StepproofClients, role: Role, disputeId: Hex, disk: (c: Awaited<ReturnType<typeof readChainDispute>>) => Promise<Disk>, from: DisputeLogsFrom = {}, send?: MoveSender): Promise<PlayReturnType> {
  const c = await readChainDispute(clients, disputeId, from);
  const move = nextMove(role, c, await disk(c));
  const tx = move ? await sendMove(clients, move, send) : undefined;
  return { disputeId, move, ...(tx ? { tx } : {}) };
}

const chunksRevealed = parseAbiItem(
  "event ChunksRevealed(bytes32 indexed disputeId, (uint8 src, uint256 tensor, uint256 row, uint256 chunk)[] leaves, bytes[] data, bytes32[][] proofs, uint16 revealedMask, uint128 feesCredited)",
);

/**
 * Chunks the prover revealed on-chain for a dispute (data availability, PROTOCOL §7.4), keyed
 * by `leafKey`: step leaves and trace leaves with their proofs; empty entries were not revealed
 * by that call.
 */
export async function revealedChunks(clients: StepproofClients, disputeId: Hex, from: DisputeLogsFrom = {}): Promise<Map<string, Opening>> {
  const logs = await getLogsInRanges(clients.publicClient, {
    address: clients.deployment.contracts.stepProofGame,
    event: chunksRevealed,
    args: { disputeId },
    fromBlock: from.fromBlock ?? BigInt(clients.deployment.startBlock),
  });
  const out = new Map<string, Opening>();
  for (const l of logs) {
    const { leaves, data, proofs } = l.args;
    leaves!.forEach((leaf, i) => {
      if (data![i] === "0x") return;
      out.set(leafKey(leaf.src, Number(leaf.tensor), Number(leaf.row), Number(leaf.chunk)), { chunk: data![i]!, proof: [...proofs![i]!] });
    });
  }
  return out;
}
