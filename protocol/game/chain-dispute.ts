import { parseAbiItem, type Hex } from "viem";
import { modelRegistryAbi, stepProofGameAbi, jobEscrowAbi } from "../chain/generated/abi.js";
import type { StepproofClients } from "../chain/client.js";
import { Phase, type ChainDispute } from "../dispute/agent.js";
import { fromLeafArg, type DemandLeaf } from "../dispute/demand.js";
import { getLogsInRanges } from "../chain/logs-in-ranges.js";

/** Where a dispute's logs start: its DisputeOpened block when known (a node records it), else the deployment block. */
export type DisputeLogsFrom = { fromBlock?: bigint };

export type OnChainDispute = ChainDispute & { jobId: bigint; prover: Hex; challenger: Hex; modelId: Hex; traceRoot: Hex };

const tolerancesByModel = new Map<string, Promise<ChainDispute["tolerances"]>>();

/** The model's registered per-operation tolerances (PROTOCOL §6), read once per model. */
export async function modelTolerances(clients: StepproofClients, modelId: Hex): Promise<ChainDispute["tolerances"]> {
  const key = `${clients.deployment.contracts.modelRegistry}:${modelId}`;
  let p = tolerancesByModel.get(key);
  if (!p) {
    p = (async () => {
      const registry = clients.deployment.contracts.modelRegistry;
      const count = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "OP_COUNT" });
      const all = [];
      for (let op = 0; op < count; op++) all.push(await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "tolerance", args: [modelId, op] }));
      return all.map((t) => ({ atol: t.atol, rtol: t.rtol }));
    })();
    tolerancesByModel.set(key, p);
  }
  return p;
}

const chunksDemanded = parseAbiItem("event ChunksDemanded(bytes32 indexed disputeId, (uint8 src, uint256 tensor, uint256 row, uint256 chunk)[] leaves, uint8 round, uint128 feesEscrowed)");

/** The leaves of a dispute's latest demand, from its ChunksDemanded log (the game stores only their hash). */
export async function demandedLeaves(clients: StepproofClients, disputeId: Hex, from: DisputeLogsFrom = {}): Promise<DemandLeaf[]> {
  const logs = await getLogsInRanges(clients.publicClient, {
    address: clients.deployment.contracts.stepProofGame,
    event: chunksDemanded,
    args: { disputeId },
    fromBlock: from.fromBlock ?? BigInt(clients.deployment.startBlock),
  });
  const last = logs.at(-1);
  return last ? last.args.leaves!.map(fromLeafArg) : [];
}

/** A dispute as the agent reads it (PROTOCOL §7.5): game state, outstanding demand, block time, job and tolerances. */
export async function readChainDispute(clients: StepproofClients, disputeId: Hex, from: DisputeLogsFrom = {}): Promise<OnChainDispute> {
  const game = clients.deployment.contracts.stepProofGame;
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  const [d, block, maxRounds, maxLeaves] = await Promise.all([
    read({ address: game, abi: stepProofGameAbi, functionName: "getDispute", args: [disputeId] }),
    clients.publicClient.getBlock(),
    read({ address: game, abi: stepProofGameAbi, functionName: "MAX_DEMAND_ROUNDS" }),
    read({ address: game, abi: stepProofGameAbi, functionName: "MAX_LEAVES_PER_DEMAND" }),
  ]);
  const job = await read({ address: clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [d.jobId] });
  const leaves = d.phase === Phase.AwaitingData ? await demandedLeaves(clients, disputeId, from) : [];
  return {
    id: disputeId,
    phase: d.phase,
    position: d.position,
    layer: d.layer,
    stepRoot: d.stepRoot,
    turnStartedAt: d.turnStartedAt,
    proverClockLeft: d.proverClockLeft,
    challengerClockLeft: d.challengerClockLeft,
    roundsUsed: d.roundsUsed,
    maxRounds,
    maxLeaves,
    demand: { leaves, revealedMask: d.revealedMask },
    jobStatus: job.status,
    now: block.timestamp,
    tolerances: await modelTolerances(clients, job.modelId),
    // What the judge reads from the job: the prompt length and the head step's sampling rule, whose seed keys its noise (PROTOCOL §4.4).
    job: { inputTokens: Number(job.inputTokens), samplingParams: job.samplingParams },
    jobId: d.jobId,
    prover: d.prover,
    challenger: d.challenger,
    modelId: job.modelId,
    traceRoot: job.traceRoot,
  };
}
