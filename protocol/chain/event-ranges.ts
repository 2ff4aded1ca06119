import type { Abi, Address, Log } from "viem";
import type { StepproofClients } from "./client.js";
import { blockRanges } from "./logs-in-ranges.js";

export type EventsInRangesParameters = {
  address: Address | Address[];
  abi: Abi;
  eventName: string;
  /** Indexed arguments to filter on (an array means any of them). */
  args?: Record<string, unknown>;
  /** Default: the deployment's start block. */
  fromBlock?: bigint;
  /** Default: the latest block. */
  toBlock?: bigint;
  maxRange?: bigint;
};

/**
 * Every event of one kind from `fromBlock` to `toBlock`, read in bounded block ranges so a long
 * chain history never exceeds a provider's getLogs limit. For read-only summaries (status
 * commands); daemons that act on logs follow them with confirmations (protocol/node/log-follower).
 */
export async function getEventsInRanges(clients: StepproofClients, p: EventsInRangesParameters): Promise<(Log & { args: Record<string, unknown> })[]> {
  const from = p.fromBlock ?? BigInt(clients.deployment.startBlock);
  const to = p.toBlock ?? (await clients.publicClient.getBlockNumber({ cacheTime: 0 }));
  const out: (Log & { args: Record<string, unknown> })[] = [];
  for (const [start, end] of blockRanges(from, to, p.maxRange)) {
    const logs = await clients.publicClient.getContractEvents({ address: p.address, abi: p.abi, eventName: p.eventName, ...(p.args ? { args: p.args } : {}), fromBlock: start, toBlock: end } as Parameters<typeof clients.publicClient.getContractEvents>[0]);
    out.push(...(logs as (Log & { args: Record<string, unknown> })[]));
  }
  return out;
}
