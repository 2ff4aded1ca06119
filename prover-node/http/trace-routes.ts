import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Address, Hex } from "viem";
import { voucherTraceId } from "../serve/voucher-service.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { StepproofRuntimeError } from "../../runtime/errors.js";
import type { ChunkProof } from "../../runtime/trace/commitment.js";
import type { TraceStore } from "../../runtime/trace/store.js";
import { ApiError } from "../errors.js";
import type { JobRow, ProverDb } from "../state/db.js";

/** What the trace routes read of a job: a per-job row, or a voucher job's view (PROTOCOL §5.8). */
export type TraceJob = Pick<JobRow, "jobId" | "state" | "inputTokens" | "outputTokenIds" | "traceRoot" | "outputRoot" | "commitTx" | "client">;
import { parsePositions, traceQuerySchema } from "./schemas.js";
import { parseBody } from "./openai-routes.js";
import type { RequestAuth } from "./request-auth.js";

/**
 * Trace data of served jobs (PROTOCOL §5.6), for the job's client and registered verifiers
 * only (§5.7: a signed request; anyone else learns nothing about the prompt or output here):
 * hidden-state chunks with Merkle proofs against the job's trace root, token leaves with proofs
 * against its promptRoot (t < P) or outputRoot (t ≥ P); the verifier checks them against the
 * roots committed on-chain.
 *   GET /v1/jobs/:id                              job state as this node knows it
 *   GET /v1/jobs/:id/trace?layer=l&positions=…    every chunk of h[t][l] for those t
 *   GET /v1/jobs/:id/trace?layer=tokens&positions=…  the token leaves, against the token roots
 */
export function registerTraceRoutes(
  app: FastifyInstance,
  o: {
    db: ProverDb;
    store: TraceStore;
    auth: RequestAuth;
    clients: StepproofClients;
    traceIdOf?: (jobId: bigint) => string;
    /** A voucher job by its hash (PROTOCOL §5.8), readable like a job before it has a job id. */
    voucherJob?: (voucherHash: Hex) => TraceJob | undefined;
  },
): void {
  /** The job's client: kept in the database after the first read (the chain never changes it). */
  const clientOf = async (row: TraceJob): Promise<Address> => {
    if (row.client) return row.client;
    const job = await getJob(o.clients, { jobId: row.jobId }).catch((cause: unknown) => {
      throw new ApiError(503, "chain_unavailable", "cannot read the job's client from the chain; retry later", { cause, retryAfterSeconds: 2 });
    });
    o.db.setClient(row.jobId, job.client);
    return job.client;
  };

  /**
   * Signature first, then entitlement: a stranger learns nothing, not even which jobs this node
   * served (403 for a served job and an unknown one alike).
   */
  const entitled = async (req: FastifyRequest): Promise<TraceJob> => {
    const signer = await o.auth.authenticate(req);
    const raw = (req.params as { id: string }).id;
    const byVoucher = /^0x[0-9a-fA-F]{64}$/.test(raw) && o.voucherJob !== undefined;
    if (!byVoucher && !/^[1-9]\d{0,76}$/.test(raw)) throw new ApiError(400, "invalid_job_id", "job id must be a positive decimal integer (or a voucher job's 0x hash)");
    const row = byVoucher ? o.voucherJob!(raw as Hex) : o.db.job(BigInt(raw));
    // One refusal for a stranger whether or not this node served the job: a 404 here and a 403
    // there would tell it which jobs exist. Only a registered verifier learns "not served here".
    const notEntitled = new ApiError(403, "not_entitled", `${signer} is neither job ${raw}'s client nor a registered verifier`);
    if (!row) {
      if (await o.auth.isVerifier(signer, req.ip)) throw new ApiError(404, "job_not_found", `this node has not served job ${raw}`);
      throw notEntitled;
    }
    if (signer.toLowerCase() === (await clientOf(row)).toLowerCase()) return row;
    if (await o.auth.isVerifier(signer, req.ip)) return row;
    throw notEntitled;
  };

  app.get("/v1/jobs/:id", async (req) => {
    const row = await entitled(req);
    return { job_id: row.jobId.toString(), state: row.state, trace_root: row.traceRoot ?? null, output_root: row.outputRoot ?? null, input_tokens: row.inputTokens, output_tokens: row.outputTokenIds?.length ?? null, commit_tx: row.commitTx ?? null };
  });

  app.get("/v1/jobs/:id/trace", async (req) => {
    const row = await entitled(req);
    if (row.state === "generating" || row.state === "failed") throw new ApiError(409, "trace_unavailable", `job ${row.jobId} has no complete trace (state ${row.state})`);
    const q = parseBody(traceQuerySchema, req.query);
    let positions: number[];
    try {
      positions = parsePositions(q.positions);
    } catch (err) {
      throw new ApiError(400, "invalid_positions", (err as Error).message);
    }
    // Cost proportional to the chunks returned (runtime/trace/trace-reader.ts), not to the trace.
    const chunks: ChunkProof[] = [];
    try {
      // A voucher job keeps its trace under its voucher, read by hash or, once moved into the
      // JobEscrow, by its job id (PROTOCOL §5.8).
      const id = (req.params as { id: string }).id;
      const trace = o.store.reader(id.startsWith("0x") ? voucherTraceId(id as Hex) : (o.traceIdOf?.(row.jobId) ?? row.jobId.toString()));
      for (const t of positions) {
        if (q.layer === "tokens") chunks.push(trace.tokenProof(t, row.inputTokens));
        else chunks.push(...trace.hiddenChunks(t, q.layer));
      }
      const { promptRoot, outputRoot } = trace.tokenRoots(row.inputTokens);
      return { job_id: row.jobId.toString(), trace_root: trace.root, prompt_root: promptRoot, output_root: outputRoot, tokens: trace.tokens.length, input_tokens: row.inputTokens, layer: q.layer, dtype: trace.layout.dtype, chunk_size: trace.layout.chunkSize, chunks };
    } catch (err) {
      if (err instanceof RangeError) throw new ApiError(400, "out_of_range", err.message);
      // Pruned after settlement, or a damaged file: nothing this node can prove any more.
      if (err instanceof StepproofRuntimeError) throw new ApiError(409, "trace_unavailable", `job ${row.jobId}'s trace cannot be served: ${err.shortMessage}`, { cause: err });
      throw err;
    }
  });
}
