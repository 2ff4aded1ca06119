import { formatLog, numberToHex, type Chain, type Hash, type Log, type PublicClient, type RpcLog, type Transport } from "viem";
import type { Deployment } from "../../protocol/chain/deployments.js";
import { DashboardError } from "../errors.js";
import { eventFilter, type ChainEvent, type EventFilter } from "./events.js";
import { Ledger } from "./ledger.js";
import type { IndexerStore } from "./store.js";

export type IndexerOptions = {
  /** Blocks per eth_getLogs request. */
  maxLogRange: number;
  /** Ranges per poll while catching up. */
  maxRangesPerPoll: number;
  /** Only blocks this deep are indexed. */
  confirmations: number;
  /** Where the cursor and the events persist across restarts; without one the indexer starts from the deployment block each time. */
  store?: IndexerStore;
  log?: (line: string) => void;
};

export type PollResult = {
  head: bigint;
  /** Last block folded into the ledger (startBlock − 1 before the first). */
  indexed: bigint;
  /** Everything up to head − confirmations is in the ledger. */
  caughtUp: boolean;
  /** The chain no longer had the block this indexer stopped at: the ledger was rebuilt from the deployment block. */
  reorged: boolean;
  /** Events applied by this poll. */
  applied: number;
};

/**
 * Follows a deployment's logs into a Ledger, in bounded eth_getLogs ranges behind a cursor (the
 * last indexed block and its hash) persisted with the events in the store, so a restart replays
 * them from disk and reads only new blocks. Each poll reads only what is new, so serving the
 * page never scans history. If the block under the cursor changed (a reorg deeper than the
 * confirmations, or a dev chain restarted), the ledger cannot un-apply events, so it starts over
 * from the deployment block: rare, and correct.
 */
export class Indexer {
  ledger = new Ledger();
  private cursor: { block: bigint; hash: Hash } | undefined;
  private readonly filter: EventFilter;
  private readonly startBlock: bigint;

  constructor(
    private readonly client: PublicClient<Transport, Chain>,
    deployment: Deployment,
    private readonly options: IndexerOptions,
  ) {
    this.filter = eventFilter(deployment);
    this.startBlock = BigInt(deployment.startBlock);
    const stored = options.store?.load();
    if (stored?.cursor) {
      for (const e of stored.events) this.ledger.apply(e);
      this.cursor = stored.cursor;
      options.log?.(`resumed at block ${stored.cursor.block} with ${stored.events.length} stored events`);
    }
  }

  get indexedBlock(): bigint {
    return this.cursor?.block ?? this.startBlock - 1n;
  }

  async poll(): Promise<PollResult> {
    const head = await this.client.getBlockNumber({ cacheTime: 0 });
    let reorged = false;
    if (this.cursor) {
      const block = await this.client.getBlock({ blockNumber: this.cursor.block }).catch(() => undefined);
      if (block?.hash !== this.cursor.hash) {
        this.options.log?.(`block ${this.cursor.block} changed under the dashboard (a reorg): re-indexing from block ${this.startBlock}`);
        this.ledger = new Ledger();
        this.cursor = undefined;
        this.options.store?.reset();
        reorged = true;
      }
    }
    const safe = head - BigInt(this.options.confirmations);
    let applied = 0;
    for (let i = 0; i < this.options.maxRangesPerPoll && this.indexedBlock < safe; i++) {
      applied += await this.readRange(this.indexedBlock + 1n, min(this.indexedBlock + BigInt(this.options.maxLogRange), safe));
    }
    return { head, indexed: this.indexedBlock, caughtUp: this.indexedBlock >= safe, reorged, applied };
  }

  /** Fold the events of blocks from..to into the ledger and move the cursor to `to`. */
  private async readRange(from: bigint, to: bigint): Promise<number> {
    // The end block's hash is taken before the logs: a log of block `to` with another hash means
    // the block was replaced while we read, and the range is read again on the next poll.
    const end = await this.client.getBlock({ blockNumber: to });
    let raw: RpcLog[];
    try {
      raw = await this.client.request({
        method: "eth_getLogs",
        params: [{ address: this.filter.addresses, topics: this.filter.topics, fromBlock: numberToHex(from), toBlock: numberToHex(to) }],
      });
    } catch (cause) {
      throw new DashboardError(`eth_getLogs failed for blocks ${from}–${to}.`, { details: "If the provider caps log ranges, lower --max-log-range.", cause });
    }
    const logs = raw.map((l) => formatLog(l) as Log);
    if (logs.some((l) => l.blockNumber === to && l.blockHash !== end.hash)) {
      throw new DashboardError(`block ${to} changed while its logs were read; retrying`);
    }
    const decoded = logs.map((l) => ({ log: l, event: this.filter.decode(l) })).filter((x) => x.event !== undefined);
    const times = await this.blockTimes(decoded.map((x) => x.log), end);
    const events: ChainEvent[] = decoded.map(({ log, event }) => ({ ...event!, time: times.get(log.blockNumber!)! }));
    events.sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));
    this.options.store?.append(events, { block: to, hash: end.hash });
    for (const e of events) this.ledger.apply(e);
    this.cursor = { block: to, hash: end.hash };
    return events.length;
  }

  /** Timestamps of the blocks the logs are in: from the logs where the node includes them, else one header each. */
  private async blockTimes(logs: Log[], end: { number: bigint; timestamp: bigint }): Promise<Map<bigint, bigint>> {
    const times = new Map<bigint, bigint>([[end.number, end.timestamp]]);
    for (const l of logs) {
      const t = (l as Log & { blockTimestamp?: bigint }).blockTimestamp;
      if (t !== undefined && t !== null) times.set(l.blockNumber!, t);
    }
    const missing = [...new Set(logs.map((l) => l.blockNumber!))].filter((b) => !times.has(b));
    const headers = await Promise.all(missing.map((blockNumber) => this.client.getBlock({ blockNumber })));
    for (const h of headers) times.set(h.number, h.timestamp);
    return times;
  }
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
