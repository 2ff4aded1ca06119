import type { AbiEvent, Chain, GetLogsParameters, Log, PublicClient, Transport } from "viem";

/** Blocks per eth_getLogs request: public providers refuse ranges over 10k blocks. */
export const DEFAULT_LOG_RANGE = 1_000n;

/**
 * eth_getLogs from `fromBlock` to the head in ranges of at most `maxRange` blocks. For reads
 * whose start is recent by construction (a live dispute's logs since it opened), so the number
 * of requests is bounded by the object's lifetime, never by the chain's history.
 */
export async function getLogsInRanges<TEvent extends AbiEvent>(
  client: PublicClient<Transport, Chain>,
  p: { address: `0x${string}`; event: TEvent; args?: Record<string, unknown>; fromBlock: bigint; maxRange?: bigint },
): Promise<Log<bigint, number, false, TEvent, true>[]> {
  const step = p.maxRange ?? DEFAULT_LOG_RANGE;
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const out: Log<bigint, number, false, TEvent, true>[] = [];
  for (let from = p.fromBlock; from <= head; from += step) {
    const to = from + step - 1n < head ? from + step - 1n : head;
    const logs = await client.getLogs({ address: p.address, event: p.event, ...(p.args ? { args: p.args } : {}), fromBlock: from, toBlock: to, strict: true } as GetLogsParameters<TEvent, [TEvent], true>);
    out.push(...(logs as unknown as Log<bigint, number, false, TEvent, true>[]));
  }
  return out;
}
