import type { Address, Hex } from "viem";
import { nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { TOKEN_TENSOR } from "../protocol/commitments/index.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import type { ReplayableTrace } from "../runtime/reexec.js";
import type { ChunkProof } from "../runtime/trace/commitment.js";
import { signedGet } from "../protocol/auth/signed-fetch.js";
import { TraceUnavailableError, type LeafRequest, type TraceRequest, type TraceSource, type VerifiedLeaf } from "./trace-source.js";
import { assembleVerifiedTrace, verifiedLeaf } from "./verified-trace.js";

/** The prover API serves at most this many positions per request (PROTOCOL §5.6). */
const POSITIONS_PER_REQUEST = 64;

type TraceResponse = { chunks: ChunkProof[] };

/**
 * Tries of one request refused for now (429 rate-limited, any 5xx: busy, chain unreadable, or a
 * transient server error) before the prover counts as not serving: a prover's passing 500 must
 * not make an honest verifier mark the job withheld and open an availability challenge.
 */
const RETRIES = 4;

/** 429 and every 5xx: the prover may serve on a later try (PROTOCOL §5.7 "Retrying"). */
export const retryable = (status: number): boolean => status === 429 || (status >= 500 && status <= 599);

/**
 * Fetches trace slices from the prover's endpoint as registered in the NodeRegistry
 * (`GET /v1/jobs/:id/trace`), in bounded requests with a timeout, each signed by this
 * verifier's registered key (PROTOCOL §5.7: provers serve trace data to registered verifiers
 * and the job's client only), and verifies every chunk against the on-chain root before
 * anything uses it. A refusal for now (429, 5xx) is retried after the prover's Retry-After.
 */
export class HttpTraceSource implements TraceSource {
  constructor(
    readonly clients: StepproofClients,
    readonly options: { timeoutMs?: number } = {},
  ) {}

  async fetch(request: TraceRequest): Promise<ReplayableTrace> {
    const base = await this.#endpoint(request.prover);
    const n = request.shape.tokens;
    const byKey = new Map<string, ChunkProof>();
    const get = async (layer: number | "tokens", first: number, last: number) => {
      for (let a = first; a <= last; a += POSITIONS_PER_REQUEST) {
        const b = Math.min(last, a + POSITIONS_PER_REQUEST - 1);
        for (const c of await this.#get(base, request, layer, `${a}-${b}`)) byKey.set(`${c.tensorId}:${c.row}:${c.chunkIndex}`, c);
      }
    };
    await get("tokens", 0, n - 1);
    for (const l of request.boundaries) await get(l, 0, n - 2);
    return assembleVerifiedTrace(
      request,
      request.shape,
      (t) => byKey.get(`${TOKEN_TENSOR}:${t}:0`),
      (l, t, c) => byKey.get(`${l}:${t}:${c}`),
    );
  }

  async fetchLeaf(request: LeafRequest): Promise<VerifiedLeaf> {
    const chunks = await this.#get(await this.#endpoint(request.prover), request, request.layer, String(request.row));
    return verifiedLeaf(request, chunks.find((c) => c.tensorId === request.layer && c.row === request.row && c.chunkIndex === request.chunk));
  }

  async #endpoint(prover: Hex): Promise<string> {
    const node = await this.clients.publicClient.readContract({ address: this.clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [prover as Address] });
    return node.endpoint.replace(/\/+$/, "");
  }

  async #get(base: string, request: { jobId: bigint; key?: string; prover: Hex }, layer: number | "tokens", positions: string): Promise<ChunkProof[]> {
    const url = `${base}/v1/jobs/${request.key ?? request.jobId}/trace?layer=${layer}&positions=${positions}`;
    const account = this.clients.walletClient?.account;
    if (!account) throw new TraceUnavailableError("reading a prover's trace needs this verifier's signing key (PROTOCOL §5.7)");
    let res: Response;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await signedGet({ account, chainId: this.clients.chain.id, prover: request.prover as Address, url, timeoutMs: this.options.timeoutMs ?? 15_000 });
      } catch (cause) {
        throw new TraceUnavailableError(`prover ${request.prover} at ${base} did not answer for job ${request.jobId}`, { cause });
      }
      if (!retryable(res.status) || attempt >= RETRIES) break;
      const wait = Math.min(10, Math.max(Number(res.headers.get("retry-after")) || 0, 0.25 * 2 ** attempt));
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, wait * 1000));
    }
    if (!res.ok) throw new TraceUnavailableError(`prover ${request.prover} refused trace of job ${request.jobId}: HTTP ${res.status}`, { details: (await res.text()).slice(0, 500) });
    return ((await res.json()) as TraceResponse).chunks ?? [];
  }
}
