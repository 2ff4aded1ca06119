import { createPublicClient, http, type Address, type Chain, type PublicClient, type Transport } from "viem";
import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import type { OnChainJob } from "./getJob.js";

/** Multicall3's address on nearly every public chain (deployed by the same keyless transaction). */
export const MULTICALL3_ADDRESS: Address = "0xcA11bde05977b3631167028862bE2a173976CA11";

/** Calls per multicall / per JSON-RPC batch: well under any provider's request and gas caps. */
const BATCH = 100;

export type GetJobsParameters = { jobIds: readonly bigint[] };

/** How a node reads many jobs at once: one eth_call per batch, or one HTTP request per batch. */
export type BatchMode = "multicall3" | "json-rpc-batch";

const readers = new WeakMap<StepproofClients, Promise<{ mode: BatchMode; client: PublicClient<Transport, Chain> }>>();

/**
 * Multicall3 where the chain has it at its usual address; otherwise (a fresh dev chain: neither
 * EDR nor anvil deploys it) a client whose transport sends JSON-RPC batches, which both serve.
 * Decided once per connection.
 */
export function batchReader(clients: StepproofClients): Promise<{ mode: BatchMode; client: PublicClient<Transport, Chain> }> {
  let r = readers.get(clients);
  if (!r) {
    r = (async () => {
      const code = await clients.publicClient.getCode({ address: MULTICALL3_ADDRESS });
      if (code && code !== "0x") return { mode: "multicall3" as const, client: clients.publicClient };
      const url = clients.chain.rpcUrls.default.http[0]!;
      return { mode: "json-rpc-batch" as const, client: createPublicClient({ chain: clients.chain, transport: http(url, { batch: { batchSize: BATCH, wait: 0 }, retryCount: 5, retryDelay: 250, ...(clients.onRpcRequest ? { onFetchRequest: () => clients.onRpcRequest!() } : {}) }) }) as PublicClient<Transport, Chain> };
    })();
    r.catch(() => readers.delete(clients));
    readers.set(clients, r);
  }
  return r;
}

/**
 * Many jobs' on-chain state in ⌈n/100⌉ requests instead of n (issue #15: a prover reading every
 * committed job one call at a time made 12k–18k eth_calls a minute). Unknown ids are absent
 * from the result rather than an error, so one bad id cannot hide the others.
 */
export async function getJobs(clients: StepproofClients, p: GetJobsParameters): Promise<Map<bigint, OnChainJob>> {
  const out = new Map<bigint, OnChainJob>();
  if (p.jobIds.length === 0) return out;
  const { mode, client } = await batchReader(clients);
  const address = clients.deployment.contracts.jobEscrow;
  if (mode === "multicall3") {
    for (let i = 0; i < p.jobIds.length; i += BATCH) {
      const ids = p.jobIds.slice(i, i + BATCH);
      const results = await client.multicall({ contracts: ids.map((jobId) => ({ address, abi: jobEscrowAbi, functionName: "getJob" as const, args: [jobId] as const })), multicallAddress: MULTICALL3_ADDRESS, allowFailure: true });
      results.forEach((r, k) => {
        if (r.status === "success") out.set(ids[k]!, r.result as OnChainJob);
      });
    }
    return out;
  }
  const settled = await Promise.allSettled(p.jobIds.map((jobId) => client.readContract({ address, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] })));
  let failure: unknown;
  settled.forEach((r, k) => {
    if (r.status === "fulfilled") out.set(p.jobIds[k]!, r.value);
    else if (!/UnknownJob/.test(String(r.reason))) failure ??= r.reason;
  });
  // A transport failure is not "unknown job": surface it, so the caller retries next pass.
  if (failure !== undefined) throw failure;
  return out;
}
