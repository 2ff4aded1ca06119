import type { DatabaseSync } from "node:sqlite";
import type { Address, Hex, Log } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { voucherPublicationAbi } from "../../protocol/chain/generated/abi.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import { decodePromptTokens } from "../../protocol/chain/actions/publishPrompt.js";
import { publicationAddress, PublicationStatus, readPublication } from "../../protocol/chain/actions/voucher-publication.js";
import { followLogs, LOG_CURSOR_SCHEMA } from "../../protocol/node/log-follower.js";
import { decodeVoucherHeader, encodeVoucherHeader } from "../../protocol/vouchers/wire.js";
import type { Voucher } from "../../protocol/vouchers/voucher.js";
import { entryOf } from "../../protocol/vouchers/batch.js";
import { ApiError } from "../errors.js";
import { settleAll } from "../settle-all.js";
import { refusedForRoom, waitForRoom } from "../serve/decline-policy.js";
import type { AdmittedVoucher, VoucherService } from "../serve/voucher-service.js";
import type { PersistedTxSender } from "../state/tx-sender.js";
import type { VoucherJobs } from "../state/voucher-jobs.js";
import type { BatchCommitter } from "./batch-committer.js";
import { getChainTime } from "../../protocol/chain/actions/getChainTime.js";

const SCHEMA = `
${LOG_CURSOR_SCHEMA}
CREATE TABLE IF NOT EXISTS voucher_publications (
  voucher_hash TEXT PRIMARY KEY,
  voucher TEXT NOT NULL,           -- the x-stepproof-voucher value (voucher + signature)
  prompt TEXT NOT NULL,            -- the event's bytes (uint32 big-endian ids), hex
  deadline INTEGER NOT NULL,
  decline_deadline INTEGER NOT NULL,
  state TEXT NOT NULL              -- pending | serving | answered | declined | lost
);
CREATE INDEX IF NOT EXISTS voucher_publications_state ON voucher_publications (state);`;

type Row = { voucherHash: Hex; voucher: Voucher; signature: Hex; promptTokens: number[]; deadline: bigint; declineDeadline: bigint };

export type VoucherPublicationsOptions = {
  /** How long before a publication's decline window ends a busy node stops waiting and declines (serve/decline-policy.ts). */
  declineMarginSeconds?: bigint;
  clients: StepproofClients;
  prover: Address;
  db: DatabaseSync;
  vouchers: VoucherJobs;
  service: VoucherService;
  committer: BatchCommitter;
  sender: PersistedTxSender;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
};

/**
 * The prover's side of voucher publication (PROTOCOL §5.8 "Publication"): read the vouchers
 * clients published for this node (a persisted cursor over VoucherPublished, indexed by
 * prover), serve each one the node never received over HTTP from the prompt in the log,
 * decline on-chain within the decline window those it cannot serve, have the committer batch
 * them at once, and show each one's leaf once its batch is committed. A row stays until its
 * publication ends, so a restarted node picks up where the dead one stopped.
 */
export class VoucherPublications {
  constructor(readonly o: VoucherPublicationsOptions) {
    o.db.exec(SCHEMA);
  }

  /** Read new publications, serve (or decline) them, answer those now batched. */
  async tick(logs: { confirmations: number; maxRange: number }): Promise<void> {
    await this.#follow(logs);
    await this.#serve();
    await this.answer();
  }

  async #follow(logs: { confirmations: number; maxRange: number }): Promise<void> {
    const { o } = this;
    const insert = o.db.prepare("INSERT OR IGNORE INTO voucher_publications (voucher_hash, voucher, prompt, deadline, decline_deadline, state) VALUES (?, ?, ?, ?, ?, 'pending')");
    for (;;) {
      const more = await followLogs({
        db: o.db,
        name: "VoucherPublished",
        client: o.clients.publicClient,
        address: publicationAddress(o.clients),
        abi: voucherPublicationAbi,
        eventName: "VoucherPublished",
        args: { prover: o.prover },
        startBlock: BigInt(o.clients.deployment.startBlock),
        confirmations: logs.confirmations,
        maxRange: logs.maxRange,
        onLogs: (found: Log[]) => {
          for (const log of found as (Log & { args: { voucherHash: Hex; voucher: Voucher; signature: Hex; prompt: Hex; publication: { deadline: bigint; declineDeadline: bigint } } })[]) {
            const a = log.args;
            insert.run(a.voucherHash.toLowerCase(), encodeVoucherHeader(a.voucher, a.signature), a.prompt, Number(a.publication.deadline), Number(a.publication.declineDeadline));
          }
        },
      });
      if (!more) return;
    }
  }

  #rows(state: string): Row[] {
    const raw = this.o.db.prepare("SELECT * FROM voucher_publications WHERE state = ? ORDER BY deadline").all(state) as Record<string, string | number>[];
    return raw.map((r) => {
      const { voucher, signature } = decodeVoucherHeader(String(r.voucher));
      return { voucherHash: String(r.voucher_hash) as Hex, voucher, signature, promptTokens: decodePromptTokens(String(r.prompt) as Hex), deadline: BigInt(r.deadline!), declineDeadline: BigInt(r.decline_deadline!) };
    });
  }

  #set(voucherHash: Hex, state: "serving" | "answered" | "declined" | "lost"): void {
    this.o.db.prepare("UPDATE voucher_publications SET state = ? WHERE voucher_hash = ?").run(state, voucherHash.toLowerCase());
  }

  /**
   * Read the publication's on-chain status and record an ended one (answered, declined, or else
   * lost); an open one is recorded as `whileOpen` when given, else left as it is.
   */
  async #recordChainStatus(voucherHash: Hex, whileOpen?: "lost"): Promise<number> {
    const { status } = await readPublication(this.o.clients, { voucherHash });
    if (status === PublicationStatus.Answered) this.#set(voucherHash, "answered");
    else if (status === PublicationStatus.Declined) this.#set(voucherHash, "declined");
    else if (status !== PublicationStatus.Open || whileOpen) this.#set(voucherHash, "lost");
    return status;
  }

  /** Serve every new publication, or decline it: admit them all first (the decline window is short). */
  async #serve(): Promise<void> {
    const { o } = this;
    const pending = this.#rows("pending");
    if (pending.length === 0) return;
    // Read afresh for each decision: declines before it may have waited for their receipts.
    const chainTime = () => getChainTime(o.clients);
    const admitted: AdmittedVoucher[] = [];
    // Whatever ends this pass early (a chain read or a decline that throws), an admission that
    // was not run is undone: its claim, and the trace-store room it holds, would stay taken.
    try {
      for (const p of pending) {
        if (o.vouchers.job(p.voucherHash)) {
          this.#set(p.voucherHash, "serving"); // received over HTTP too: the committer batches it
          continue;
        }
        // Over already (a node back after its deadline, or declined before a crash): nothing to serve.
        const status = await this.#recordChainStatus(p.voucherHash);
        if (status !== PublicationStatus.Open) {
          if (status === PublicationStatus.Missed) o.log.warn({ voucherHash: p.voucherHash }, "a published voucher's deadline passed while this node was away: its penalty was claimed");
          continue;
        }
        try {
          admitted.push(await o.service.admitSigned(p.voucher, p.signature, p.promptTokens, undefined, { published: true }));
        } catch (err) {
          // The chain could not be read: next pass. Busy for now: next pass too, while the window lasts.
          if ((err instanceof ApiError && err.code === "chain_unavailable") || (await waitForRoom(err, p.declineDeadline, chainTime, o.declineMarginSeconds))) continue;
          o.log.warn({ voucherHash: p.voucherHash, err: String(err) }, "cannot serve a published voucher; declining it");
          await this.#decline(p, refusedForRoom(err));
        }
      }
      // Generated together, in the batcher's shared passes (as the loop does published prompts).
      await settleAll(
        admitted.splice(0).map(async (a) => {
          try {
            await o.service.run(a);
            this.#set(a.voucherHash, "serving");
            o.log.info({ voucherHash: a.voucherHash, client: a.voucher.client }, "served a voucher its client published on-chain");
          } catch (err) {
            o.log.warn({ voucherHash: a.voucherHash, err: String(err) }, "generation of a published voucher failed; declining it");
            await this.#decline(pending.find((p) => p.voucherHash.toLowerCase() === a.voucherHash.toLowerCase())!);
          }
        }),
      );
    } finally {
      for (const a of admitted) o.service.cancel(a);
    }
  }

  /** `couldServe`: refused only for room, so still servable if the window has closed (then left pending). */
  async #decline(p: Row, couldServe = false): Promise<void> {
    const { o } = this;
    try {
      const sent = await o.sender.send({ kind: "decline-publication", key: p.voucherHash, address: publicationAddress(o.clients), abi: voucherPublicationAbi, functionName: "decline", args: [p.voucherHash], what: `decline published voucher ${p.voucherHash}` });
      await sent.receipt;
      this.#set(p.voucherHash, "declined");
    } catch (err) {
      // Too late to decline, not to serve: left pending, it is admitted once there is room
      // (the pass records it Missed when its deadline has passed).
      if (couldServe && err instanceof TransactionError && err.revertName === "DeclineWindowClosed") {
        o.log.warn({ voucherHash: p.voucherHash }, "the decline window of a published voucher closed while the node was busy: it is served if room comes before its deadline");
        return;
      }
      // Past the window (or already closed): nothing more this node can do but log it. Closed
      // may mean declined: an earlier decline of this node's whose receipt came too late for its
      // send (the chain says which).
      if (err instanceof TransactionError && (err.revertName === "DeclineWindowClosed" || err.revertName === "NotOpen")) {
        if ((await this.#recordChainStatus(p.voucherHash, "lost")) === PublicationStatus.Declined) return;
        o.log.warn({ voucherHash: p.voucherHash, reason: err.revertName }, "a published voucher could be neither served nor declined: its penalty will be claimed");
        return;
      }
      throw err;
    }
  }

  /** Show each served publication's leaf once its batch is committed; keep the committer quick meanwhile. */
  async answer(): Promise<void> {
    const { o } = this;
    for (const p of this.#rows("serving")) {
      const job = o.vouchers.job(p.voucherHash);
      if (!job || job.state === "failed") {
        this.#set(p.voucherHash, "lost");
        o.log.warn({ voucherHash: p.voucherHash }, "a published voucher's job could not be batched: its penalty will be claimed");
        continue;
      }
      const batch = job.batchId ? o.vouchers.batch(job.batchId) : undefined;
      if (batch && (batch.state === "claimed" || batch.state === "voided")) {
        // Its batch settled before the answer landed (the node was away): the proof is gone.
        await this.#recordChainStatus(p.voucherHash, "lost");
        continue;
      }
      if (!batch || batch.state !== "committed" || !batch.header || job.leafIndex === undefined) {
        o.committer.expedite();
        continue;
      }
      const built = o.committer.batchOf(batch);
      const index = job.leafIndex;
      try {
        const sent = await o.sender.send({
          kind: "answer-publication",
          key: p.voucherHash,
          address: publicationAddress(o.clients),
          abi: voucherPublicationAbi,
          functionName: "answer",
          args: [p.voucherHash, batch.header, built.debits, BigInt(entryOf(built.debits, index)), built.leaves[index]!, index, built.tree.proof(index)],
          what: `show published voucher ${p.voucherHash} in batch ${batch.batchId}`,
        });
        await sent.receipt;
        this.#set(p.voucherHash, "answered");
        o.log.info({ voucherHash: p.voucherHash, batchId: batch.batchId, index }, "answered a published voucher with its committed leaf");
      } catch (err) {
        if (err instanceof TransactionError && (err.revertName === "NotOpen" || err.revertName === "WrongBatch")) {
          // Anyone may answer: someone else may have shown the same leaf first.
          const status = await this.#recordChainStatus(p.voucherHash, "lost");
          if (status !== PublicationStatus.Answered) o.log.warn({ voucherHash: p.voucherHash, reason: err.revertName }, "a published voucher can no longer be answered");
          continue;
        }
        o.log.warn({ voucherHash: p.voucherHash, err: String(err) }, "answering a published voucher failed; retried next pass");
      }
    }
  }
}
