import type { FastifyInstance } from "fastify";
import { isAddress, isHex, type Address, type Hex } from "viem";
import { encodeLeafResponse, encodeVoucherNext } from "../../protocol/vouchers/wire.js";
import type { BatchCommitter } from "../batches/batch-committer.js";
import { ApiError } from "../errors.js";
import type { VoucherService } from "../serve/voucher-service.js";
import type { VoucherJobs } from "../state/voucher-jobs.js";

export type VoucherRoutesOptions = { service: VoucherService; vouchers: VoucherJobs; committer: BatchCommitter };

/**
 * The voucher path's reads (PROTOCOL §5.8): the nonce a client should sign next, and a served
 * job's leaf with its proof once it is in a committed batch — public, like the batch itself.
 */
export function registerVoucherRoutes(app: FastifyInstance, o: VoucherRoutesOptions): void {
  app.get("/v1/vouchers/next", async (req) => {
    const client = (req.query as { client?: string }).client;
    if (!client || !isAddress(client)) throw new ApiError(400, "invalid_request", "give ?client=<address>");
    return encodeVoucherNext(await o.service.accountView(client as Address));
  });

  // A verifier following BatchCommitted knows batch ids and leaf counts, not voucher hashes.
  app.get("/v1/batches/:batchId/leaves/:index", async (req) => {
    const { batchId, index } = req.params as { batchId: string; index: string };
    if (!isHex(batchId) || batchId.length !== 66 || !/^\d{1,9}$/.test(index)) throw new ApiError(400, "invalid_request", "a 0x batch id and a leaf index");
    const job = o.vouchers.jobAt(batchId as Hex, Number(index));
    const row = o.vouchers.batch(batchId as Hex);
    if (!job || !row?.header || job.leafIndex === undefined) throw new ApiError(404, "leaf_not_found", "this node has no such committed leaf");
    const batch = o.committer.batchOf(row);
    return encodeLeafResponse({ batchId: row.batchId, header: row.header, debits: batch.debits, index: job.leafIndex, leaf: batch.leaves[job.leafIndex]!, proof: batch.tree.proof(job.leafIndex), voucher: job.voucher, signature: job.signature });
  });

  app.get("/v1/vouchers/:hash/leaf", async (req, reply) => {
    const hash = (req.params as { hash: string }).hash;
    if (!isHex(hash) || hash.length !== 66) throw new ApiError(400, "invalid_request", "the voucher hash is 32 bytes of 0x hex");
    const job = o.vouchers.job(hash as Hex);
    if (!job) throw new ApiError(404, "voucher_not_found", "this node served no job for that voucher");
    if (job.state === "failed") throw new ApiError(410, "voucher_not_batched", "the job could not be batched (its voucher expired or the deposit no longer covered it); it is not charged");
    const row = job.batchId ? o.vouchers.batch(job.batchId) : undefined;
    if (!row || row.state === "sending" || job.leafIndex === undefined) {
      reply.header("retry-after", "5");
      throw new ApiError(404, "not_batched", "the job is not in a committed batch yet; retry shortly", { retryAfterSeconds: 5 });
    }
    const header = row.header;
    if (!header) throw new ApiError(404, "not_batched", "the batch's header is not recorded yet; retry shortly", { retryAfterSeconds: 5 });
    const batch = o.committer.batchOf(row);
    return encodeLeafResponse({ batchId: row.batchId, header, debits: batch.debits, index: job.leafIndex, leaf: batch.leaves[job.leafIndex]!, proof: batch.tree.proof(job.leafIndex), voucher: job.voucher, signature: job.signature });
  });
}
