import path from "node:path";
import { createPublicClient, createTestClient, http, type Chain, type PublicClient, type Transport } from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Indexer } from "../../dashboard/indexer/indexer.js";
import { IndexerStore } from "../../dashboard/indexer/store.js";
import { readDeployment, type Deployment } from "../../protocol/chain/deployments.js";
import { devAccount } from "../helpers/chains.js";
import { registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

/**
 * The dashboard's log indexer on a Hardhat JSON-RPC chain: bounded eth_getLogs ranges, the
 * cursor and events persisted in SQLite and replayed by a restarted indexer, and a reorg under
 * the cursor (evm_revert, then other blocks) that makes it start over.
 */
describe("dashboard indexer", () => {
  let net: TestNetwork;
  let deployment: Deployment;
  let client: PublicClient<Transport, Chain>;
  let file: string;
  const ranges: [bigint, bigint][] = [];
  const MAX_RANGE = 3;
  const stream = "test";
  const indexer = (store: IndexerStore) => new Indexer(client, deployment, { maxLogRange: MAX_RANGE, maxRangesPerPoll: 1_000, confirmations: 0, store });
  const catchUp = async (i: Indexer) => {
    for (;;) {
      const r = await i.poll();
      if (r.caughtUp) return r;
    }
  };

  beforeAll(async () => {
    net = await startTestNetwork();
    deployment = await readDeployment(net.deploymentFile);
    file = path.join(net.dir, "indexer.sqlite");
    client = createPublicClient({
      chain: { ...hardhat, id: deployment.chainId },
      transport: http(net.chain.url, {
        onFetchRequest: async (req) => {
          type Call = { method: string; params: { fromBlock?: string; toBlock?: string }[] };
          const body = JSON.parse(await req.clone().text()) as Call | Call[];
          for (const call of Array.isArray(body) ? body : [body]) {
            if (call.method === "eth_getLogs") ranges.push([BigInt(call.params[0]!.fromBlock!), BigInt(call.params[0]!.toBlock!)]);
          }
        },
      }),
    });
  });

  afterAll(async () => {
    await net?.cleanup();
  });

  it("reads the deployment's history in bounded ranges into the ledger", async () => {
    const store = new IndexerStore(file, stream);
    const i = indexer(store);
    const r = await catchUp(i);
    expect(r.indexed).toBe(await client.getBlockNumber());
    expect(ranges.length).toBeGreaterThan(1);
    for (const [from, to] of ranges) expect(to - from + 1n).toBeLessThanOrEqual(BigInt(MAX_RANGE));
    expect(ranges[0]![0]).toBe(BigInt(deployment.startBlock));
    expect(i.ledger.models.size).toBe(1);
    expect([...i.ledger.verifiers.values()].filter((v) => v.registered)).toHaveLength(1);
    store.close();
  });

  it("a restarted indexer replays its stored events and reads only new blocks", async () => {
    const store = new IndexerStore(file, stream);
    const i = indexer(store);
    expect(i.ledger.models.size).toBe(1);
    const resumedAt = i.indexedBlock;
    expect(resumedAt).toBe(await client.getBlockNumber());
    ranges.length = 0;
    await registerProverOnChain(net, 1, "http://127.0.0.1:9");
    await catchUp(i);
    expect(ranges.every(([from]) => from > resumedAt)).toBe(true);
    expect(i.ledger.provers.get(devAccount(1).address.toLowerCase())?.offers.size).toBe(1);
    store.close();
  });

  it("starts over from the deployment block when the block under its cursor changed (a reorg)", async () => {
    const test = createTestClient({ mode: "hardhat", transport: http(net.chain.url) });
    const store = new IndexerStore(file, stream);
    const i = indexer(store);
    await catchUp(i);
    const id = await test.snapshot();
    await registerProverOnChain(net, 5, "http://127.0.0.1:9");
    await catchUp(i);
    expect(i.ledger.provers.has(devAccount(5).address.toLowerCase())).toBe(true);
    await test.revert({ id });
    await test.mine({ blocks: 5 }); // other blocks at the heights the cursor saw
    const r = await i.poll();
    expect(r.reorged).toBe(true);
    await catchUp(i);
    expect(i.ledger.provers.has(devAccount(5).address.toLowerCase())).toBe(false);
    expect(i.ledger.provers.has(devAccount(1).address.toLowerCase())).toBe(true);
    // What is on disk is the rebuilt history, not the orphaned one.
    const events = i.ledger.events;
    store.close();
    const reopened = new IndexerStore(file, stream);
    expect(indexer(reopened).ledger.events).toBe(events);
    reopened.close();
  });
});
