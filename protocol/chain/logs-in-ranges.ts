import type { AbiEvent, Chain, GetLogsParameters, Log, PublicClient, Transport } from "viem";

/** Blocks per eth_getLogs request: public providers refuse ranges over 10k blocks; 1,000 is safe everywhere. */
export const DEFAULT_LOG_RANGE = 1_000n;

/** `[from, to]` cut into consecutive inclusive ranges of at most `step` blocks. */
export function* blockRanges(from: bigint, to: bigint, step: bigint = DEFAULT_LOG_RANGE): Generator<[bigint, bigint]> {
  for (let start = from; start <= to; start += step) yield [start, start + step - 1n < to ? start + step - 1n : to];
}

/**
 * eth_getLogs from `fromBlock` to the head in ranges of at most `maxRange` blocks, so no single
 * request exceeds a provider's range limit. The number of requests grows with `head − fromBlock`:
 * callers that run often pass a recent start (a live dispute's logs since it opened).
 */
export async function getLogsInRanges<TEvent extends AbiEvent>(
  client: PublicClient<Transport, Chain>,
  p: { address: `0x${string}`; event: TEvent; args?: Record<string, unknown>; fromBlock: bigint; maxRange?: bigint },
): Promise<Log<bigint, number, false, TEvent, true>[]> {
  const head = await client.getBlockNumber({ cacheTime: 0 });
  const out: Log<bigint, number, false, TEvent, true>[] = [];
  for (const [from, to] of blockRanges(p.fromBlock, head, p.maxRange)) {
    const logs = await client.getLogs({ address: p.address, event: p.event, ...(p.args ? { args: p.args } : {}), fromBlock: from, toBlock: to, strict: true } as GetLogsParameters<TEvent, [TEvent], true>);
    out.push(...(logs as unknown as Log<bigint, number, false, TEvent, true>[]));
  }
  return out;
}
