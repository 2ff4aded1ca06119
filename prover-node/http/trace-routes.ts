import type { FastifyInstance } from "fastify";
import type { ChunkProof } from "../../runtime/trace/commitment.js";
import type { TraceStore } from "../../runtime/trace/store.js";
import { JobTokenProofs } from "../../runtime/trace/token-proofs.js";
import { ApiError } from "../errors.js";
import type { ProverDb } from "../state/db.js";
import { parsePositions, traceQuerySchema } from "./schemas.js";
import { parseBody } from "./openai-routes.js";

/**
 * Trace data of served jobs for verifiers (PROTOCOL §5.6): hidden-state chunks with Merkle
 * proofs against the job's trace root, token leaves with proofs against its promptRoot
 * (t < P) or outputRoot (t ≥ P); the verifier checks them against the roots committed on-chain.
 *   GET /v1/jobs/:id                              job state as this node knows it
 *   GET /v1/jobs/:id/trace?layer=l&positions=…    every chunk of h[t][l] for those t
 *   GET /v1/jobs/:id/trace?layer=tokens&positions=…  the token leaves, against the token roots
 */
export function registerTraceRoutes(app: FastifyInstance, o: { db: ProverDb; store: TraceStore }): void {
  const served = (raw: string) => {
    if (!/^[1-9]\d{0,76}$/.test(raw)) throw new ApiError(400, "invalid_job_id", "job id must be a positive decimal integer");
    const row = o.db.job(BigInt(raw));
    if (!row) throw new ApiError(404, "job_not_found", `this node has not served job ${raw}`);
    return row;
  };

  app.get("/v1/jobs/:id", async (req) => {
    const row = served((req.params as { id: string }).id);
    return { job_id: row.jobId.toString(), state: row.state, trace_root: row.traceRoot ?? null, output_root: row.outputRoot ?? null, input_tokens: row.inputTokens, output_tokens: row.outputTokenIds?.length ?? null, commit_tx: row.commitTx ?? null };
  });

  app.get("/v1/jobs/:id/trace", async (req) => {
    const row = served((req.params as { id: string }).id);
    if (row.state === "generating" || row.state === "failed") throw new ApiError(409, "trace_unavailable", `job ${row.jobId} has no complete trace (state ${row.state})`);
    const q = parseBody(traceQuerySchema, req.query);
    let positions: number[];
    try {
      positions = parsePositions(q.positions);
    } catch (err) {
      throw new ApiError(400, "invalid_positions", (err as Error).message);
    }
    const trace = o.store.read(row.jobId.toString());
    const n = trace.tokens.length;
    const chunks: ChunkProof[] = [];
    const tokens = new JobTokenProofs(trace.tokens, row.inputTokens);
    try {
      for (const t of positions) {
        if (q.layer === "tokens") chunks.push(tokens.proof(t));
        else for (let c = 0; c < trace.layout.chunksPerRow; c++) chunks.push(trace.hiddenProof(t, q.layer, c));
      }
    } catch (err) {
      if (err instanceof RangeError) throw new ApiError(400, "out_of_range", err.message);
      throw err;
    }
    return { job_id: row.jobId.toString(), trace_root: trace.root, prompt_root: tokens.promptRoot, output_root: tokens.outputRoot, tokens: n, input_tokens: row.inputTokens, layer: q.layer, dtype: trace.layout.dtype, chunk_size: trace.layout.chunkSize, chunks };
  });
}
