import path from "node:path";
import { createPublicClient, http, type Address, type Chain, type PublicClient, type Transport } from "viem";
import { connectStepproof } from "../protocol/chain/client.js";
import type { Deployment } from "../protocol/chain/deployments.js";
import { StepproofError } from "../protocol/errors.js";
import type { DashboardConfig } from "./config.js";
import { Indexer } from "./indexer/indexer.js";
import { IndexerStore } from "./indexer/store.js";
import { buildSnapshot, stateQuery } from "./snapshot/build.js";
import { NodeProber } from "./snapshot/probe-nodes.js";
import { readState, readTokenInfo, type TokenInfo } from "./snapshot/read-state.js";
import type { Snapshot } from "./snapshot/types.js";

export type DashboardServiceParameters = {
  config: DashboardConfig;
  log?: (line: string) => void;
};

/** What the page shows while no snapshot can be built (RPC down, wrong chain, no deployment). */
export type DashboardProblem = { message: string; details?: string; since: number };

type Connection = {
  client: PublicClient<Transport, Chain>;
  deployment: Deployment;
  token: TokenInfo & { address: Address };
  indexer: Indexer;
  store: IndexerStore;
};

type Listener = (event: "snapshot" | "problem", json: string) => void;

/**
 * Keeps one snapshot of the deployment current. Until the chain answers with the deployment the
 * config names, each refresh retries the connection (and the page shows why it failed); after
 * that each refresh advances the log indexer, and when anything moved (a new indexed block, a
 * probe round finished, a failure or a recovery) reads current state once and rebuilds the
 * snapshot. Requests and SSE clients only ever get the prepared JSON, so a page view costs the
 * RPC nothing.
 */
export class DashboardService {
  readonly prober: NodeProber | undefined;
  private conn: Connection | undefined;
  private current: { snapshot: Snapshot; json: string } | undefined;
  private version = 0;
  private builtAt: bigint | undefined;
  private dirty = true;
  private error: DashboardProblem | undefined;
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly p: DashboardServiceParameters) {
    this.prober = p.config.probeNodes ? new NodeProber(p.config.probeIntervalMs) : undefined;
  }

  /** The log indexer, once connected. */
  get indexer(): Indexer | undefined {
    return this.conn?.indexer;
  }

  get snapshot(): Snapshot | undefined {
    return this.current?.snapshot;
  }
  get json(): string | undefined {
    return this.current?.json;
  }
  get lastError(): DashboardProblem | undefined {
    return this.error;
  }

  /** Called with the JSON of every new snapshot; returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** One refresh; concurrent callers share it. Throws what the RPC threw (the loop records it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async connect(): Promise<Connection> {
    const { config, log } = this.p;
    const checked = await connectStepproof({ rpcUrl: config.rpcUrl, deploymentFile: config.deploymentFile, ...(config.expectedChainId ? { expectedChainId: config.expectedChainId } : {}) });
    // A snapshot reads a few dozen views at once: JSON-RPC batching sends them as one request.
    const client = createPublicClient({ chain: checked.chain, transport: http(config.rpcUrl, { batch: { batchSize: 200, wait: 0 }, retryCount: 2, retryDelay: 250, timeout: 20_000 }) });
    const deployment = checked.deployment;
    const token = { address: deployment.contracts.token, ...(await readTokenInfo(client, deployment)) };
    const stream = `${deployment.chainId}:${deployment.contracts.jobEscrow.toLowerCase()}:${deployment.startBlock}`;
    const store = new IndexerStore(config.database ?? path.join(".stepproof", "dashboard", `${deployment.chainId}.sqlite`), stream);
    const indexer = new Indexer(client, deployment, { maxLogRange: config.maxLogRange, maxRangesPerPoll: config.maxRangesPerPoll, confirmations: config.confirmations, store, ...(log ? { log } : {}) });
    log?.(`connected: chain ${deployment.chainId}, JobEscrow ${deployment.contracts.jobEscrow}, indexing from block ${indexer.indexedBlock + 1n}`);
    return { client, deployment, token, indexer, store };
  }

  private async doRefresh(): Promise<void> {
    this.conn ??= await this.connect();
    const { client, deployment, token, indexer } = this.conn;
    const poll = await indexer.poll();
    if (poll.reorged) this.dirty = true;
    // Read state where the ledger is, so events and views agree; while catching up, at the head
    // (the ledger is partial anyway, and old state may be pruned on a non-archive node).
    const at = poll.caughtUp && poll.indexed >= BigInt(deployment.startBlock) ? poll.indexed : poll.head;
    const endpoints = [...indexer.ledger.provers.values()].map((x) => x.endpoint);
    // Probes run beside the refresh loop (a dead endpoint takes a timeout); their results mark the snapshot dirty.
    void this.prober?.refresh(endpoints).then((ran) => {
      if (ran) this.dirty = true;
    });
    if (!this.dirty && this.builtAt === at && !this.error) return;
    const ledger = indexer.ledger;
    const state = await readState(client, deployment, stateQuery(ledger, this.p.config.listLimit, at));
    if (this.error) this.p.log?.("refresh recovered");
    this.error = undefined;
    this.dirty = false;
    this.builtAt = at;
    this.publish(
      buildSnapshot({
        version: ++this.version,
        ledger,
        state,
        token,
        deployment,
        chain: { id: client.chain.id, rpcUrl: publicRpcLabel(this.p.config.rpcUrl), indexed: poll.indexed, caughtUp: poll.caughtUp, confirmations: this.p.config.confirmations },
        prober: this.prober,
        listLimit: this.p.config.listLimit,
      }),
    );
  }

  /** Poll until stop(); failures are shown on the page (last good data, marked stale) and retried with backoff. */
  start(): void {
    let failures = 0;
    const tick = async () => {
      try {
        await this.refresh();
        failures = 0;
      } catch (err) {
        failures++;
        this.fail(err);
      }
      if (this.stopped) return;
      const delay = Math.min(this.p.config.pollIntervalMs * 2 ** Math.min(failures, 4), 30_000);
      this.timer = setTimeout(tick, delay);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
    this.listeners.clear();
    this.conn?.store.close();
  }

  private fail(err: unknown): void {
    const message = ((err as { shortMessage?: string }).shortMessage ?? (err as Error).message ?? String(err)).split("\n")[0]!;
    const details = err instanceof StepproofError ? err.details : undefined;
    const changed = this.error?.message !== message;
    this.error = { message, ...(details ? { details } : {}), since: this.error?.since ?? Date.now() };
    if (changed) this.p.log?.(`${this.conn ? "refresh failed" : "cannot show the deployment"} (retrying): ${message}${details ? ` (${details})` : ""}`);
    if (this.current) this.publish({ ...this.current.snapshot, version: ++this.version, error: { message, since: this.error.since } });
    else for (const fn of this.listeners) fn("problem", JSON.stringify(this.error));
  }

  private publish(snapshot: Snapshot): void {
    const json = JSON.stringify(snapshot);
    this.current = { snapshot, json };
    for (const fn of this.listeners) fn("snapshot", json);
  }
}

/** Scheme and host only: providers put API keys in the URL's path or query, and the page is not the place for them. */
export function publicRpcLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return "(rpc)";
  }
}
