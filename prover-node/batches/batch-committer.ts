import { encodeAbiParameters, encodeFunctionData, keccak256, parseEventLogs, type Address, type Hex, type TransactionReceipt } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { batchCourtAbi, voucherEscrowAbi } from "../../protocol/chain/generated/abi.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import { readBatchState } from "../../protocol/chain/actions/vouchers.js";
import { buildBatch, entryOf, type Batch, type BatchHeader, type ServedJob } from "../../protocol/vouchers/batch.js";
import { TransactionNotMinedError, type PersistedTxSender } from "../state/tx-sender.js";
import type { VoucherBatchRow, VoucherJobRow, VoucherJobs } from "../state/voucher-jobs.js";
import { getChainTime } from "../../protocol/chain/actions/getChainTime.js";

export type BatchCommitterOptions = {
  clients: StepproofClients;
  prover: Address;
  vouchers: VoucherJobs;
  sender: PersistedTxSender;
  /** Commit once the oldest waiting job is this old (s)… */
  intervalSeconds: number;
  /** …or as soon as this many jobs wait. */
  maxBatchJobs: number;
  /** Extra stake reserved whenever the reserve must grow (fewer reserve transactions). */
  reserveHeadroom: bigint;
  /** Unheld reserve to keep from the start, for clients' published vouchers (PROTOCOL §5.8). */
  standingReserve?: bigint;
  /** Jobs whose voucher expires within this many seconds are not batched (they could not land in time). */
  expiryMarginSeconds: number;
  /** A job of a batch was moved into the JobEscrow as `jobId`: from then on it is settled and disputed there. */
  onAdopted?: (jobId: bigint, job: VoucherJobRow) => void;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void };
};

const SETTLED = `0x${"00".repeat(31)}01`;

/** batchId = keccak256(abi.encode(prover, slot)) (PROTOCOL §5.8). */
export const batchIdOf = (prover: Address, slot: bigint): Hex => keccak256(encodeAbiParameters([{ type: "address" }, { type: "uint64" }], [prover, slot]));

/**
 * The prover's side of the voucher path (PROTOCOL §5.8), one pass per loop tick: lay out the
 * generated voucher jobs as a batch and commit it (reserving stake first when the reserve falls
 * short), follow the court's events on its live batches (answer every leaf challenge with the
 * client's voucher, record jobs moved into the JobEscrow, notice voids), and claim each batch
 * once its window has passed.
 */
export class BatchCommitter {
  #expedite = false;
  #standing = false;

  constructor(readonly o: BatchCommitterOptions) {}

  /** Commit what waits on the next pass, whatever its age (a published voucher has a deadline). */
  expedite(): void {
    this.#expedite = true;
  }

  async tick(): Promise<void> {
    if (!this.#standing) {
      this.#standing = true;
      // Not fatal: batches reserve what they need anyway; only publication waits for a reserve.
      await this.#ensureReserve(0n, this.o.standingReserve ?? 0n).catch((err: unknown) =>
        this.o.log.warn({ err: String(err), standingReserve: String(this.o.standingReserve) }, "could not reserve the standing reserve; clients cannot publish vouchers until a batch reserves stake"),
      );
    }
    await this.#resumeSending();
    await this.#followCourt();
    // A batch commit still unmined (its wait ran out) holds its slot and, when paired, the claim
    // of the batch it replaces: a new batch or claim now would be planned on a chain that has
    // not seen it (the same slot batched twice, a claim of a batch being claimed).
    const sending = this.o.vouchers.batchesIn(["sending"]);
    if (sending.length > 0) {
      this.o.log.info({ batches: sending.map((b) => b.batchId) }, "a batch commit is not mined yet; no new batch or claim until it settles");
      return;
    }
    // Steady state: the next batch goes into the slot of a batch due for its claim, both in one
    // transaction (multicall), which saves a transaction's base cost per batch (PROTOCOL §5.8 Cost).
    // While jobs are in the pipeline a due claim waits up to one batch interval for that commit;
    // an idle node claims at once.
    const { now, due } = await this.#claimable();
    const paired = await this.#commitWaiting(due[0], now || undefined);
    const rest = paired ? due.slice(1) : due;
    const busy = this.o.vouchers.pipelined() > 0;
    await this.#claim(busy ? rest.filter((r) => now - r.header!.challengeDeadline >= BigInt(this.o.intervalSeconds)) : rest, paired ? 1 : 0);
  }

  /** The batch (leaves, tree, debits) a committed row holds, rebuilt from its jobs in leaf order. */
  batchOf(row: VoucherBatchRow): Batch {
    return buildBatch(row.voucherHashes.map((h) => servedOf(this.o.vouchers.job(h)!)));
  }


  /**
   * Commit the waiting jobs when due, claiming `pair` (a batch due for its claim) in the same
   * transaction into its slot; true when `pair` was claimed. `chainNow`: this pass's chain time.
   */
  async #commitWaiting(pair?: VoucherBatchRow, chainNow?: bigint): Promise<boolean> {
    const { o } = this;
    const waiting = o.vouchers.unbatched();
    if (waiting.length === 0) return false; // no chain read on an idle pass
    const now = chainNow ?? (await getChainTime(this.o.clients)); // this pass's read, when the claim step made one
    const late = waiting.filter((j) => BigInt(j.expiry) < now + BigInt(o.expiryMarginSeconds));
    if (late.length > 0) {
      o.vouchers.markFailed(late.map((j) => j.voucherHash));
      o.log.warn({ jobs: late.length }, "voucher jobs expired before batching: they cannot be charged");
    }
    // A debit moves the client's nonce past its last leaf, so a job of a client with a lower
    // nonce still generating waits for it: batched first, the later nonce would make the earlier
    // job, already being served, unchargeable (a client could get it free by racing a quick job
    // past a long one). Generation ends in seconds; a voucher near expiry goes anyway.
    const urgent = (j: VoucherJobRow) => BigInt(j.expiry) < now + BigInt(2 * o.expiryMarginSeconds);
    const generating = o.vouchers.lowestGenerating();
    const ready = waiting.filter((j) => {
      if (late.includes(j)) return false;
      const lowest = generating.get(j.client.toLowerCase());
      return lowest === undefined || lowest > j.nonce || urgent(j);
    });
    if (ready.length === 0) return false;
    const oldestMs = Math.min(...ready.map((j) => j.createdAt));
    const due = this.#expedite || ready.length >= o.maxBatchJobs || Date.now() - oldestMs >= o.intervalSeconds * 1000 || ready.some(urgent);
    if (!due) return false;
    const rows = ready.slice(0, o.maxBatchJobs);
    const batch = buildBatch(rows.map(servedOf));
    await this.#ensureReserve(batch.total);
    const slot = pair ? pair.slot : o.vouchers.freeSlot();
    const batchId = batchIdOf(o.prover, slot);
    const hashes = batch.jobs.map((j) => j.voucherHash);
    const archived = o.vouchers.beginBatch(batchId, slot, batch.debits, hashes);
    const commitArgs = [slot, batch.tree.root, batch.leaves.length, batch.debits] as const;
    const what = `commit a batch of ${batch.leaves.length} voucher jobs`;
    const escrow = o.clients.deployment.contracts.voucherEscrow!;
    let receipt: TransactionReceipt;
    try {
      const sent = await o.sender.send(
        pair
          ? {
              kind: "batch", key: sendKey(batchId, hashes), address: escrow, abi: voucherEscrowAbi, functionName: "multicall",
              args: [[encodeFunctionData({ abi: voucherEscrowAbi, functionName: "claimBatch", args: [pair.header!] }), encodeFunctionData({ abi: voucherEscrowAbi, functionName: "commitBatch", args: commitArgs })]],
              what: `claim batch ${pair.batchId} and ${what} into its slot`,
            }
          : { kind: "batch", key: sendKey(batchId, hashes), address: escrow, abi: voucherEscrowAbi, functionName: "commitBatch", args: commitArgs, what },
      );
      receipt = await sent.receipt;
    } catch (err) {
      // Sent but not mined in time: it can still land, so the batch stays `sending` for
      // #resumeSending to record once the sender's resume has settled the transaction. Given up
      // here, its jobs would be batched again while the first batch lands unfollowed: never
      // claimed, its leaves never defended.
      if (err instanceof TransactionNotMinedError) throw err;
      o.vouchers.abandonBatch(batchId, archived);
      // A client whose deposit no longer covers its debit (it withdrew) cannot be charged: its
      // jobs are dropped, so the others are batched next pass.
      if (err instanceof TransactionError && (err.revertName === "InsufficientDeposit" || err.revertName === "NonceReused")) {
        const client = String(err.revertArgs?.[0] ?? "").toLowerCase();
        const dropped = rows.filter((r) => r.client.toLowerCase() === client).map((r) => r.voucherHash);
        o.vouchers.markFailed(dropped);
        o.log.warn({ client, jobs: dropped.length, reason: err.revertName }, "a client's voucher jobs cannot be charged; dropped from the batch");
        return false;
      }
      throw err;
    }
    if (pair && archived) {
      o.vouchers.setBatch(archived, { state: "claimed" });
      o.log.info({ batchId: pair.batchId, total: pair.header!.total.toString() }, "claimed a voucher batch");
    }
    this.#recordCommit(batchId, receipt);
    this.#expedite = false;
    o.log.info({ batchId, slot: slot.toString(), jobs: batch.leaves.length, clients: batch.debits.length, total: batch.total.toString() }, "committed a voucher batch");
    return pair !== undefined && archived !== undefined;
  }

  #recordCommit(batchId: Hex, receipt: TransactionReceipt): void {
    const [ev] = parseEventLogs({ abi: voucherEscrowAbi, logs: receipt.logs, eventName: "BatchCommitted" });
    if (!ev) throw new Error(`batch commit ${receipt.transactionHash} emitted no BatchCommitted`);
    this.o.vouchers.setBatch(batchId, { state: "committed", header: ev.args.header as BatchHeader, commitBlock: receipt.blockNumber });
  }

  /** A batch whose commit was sent before a crash: recorded from its receipt, or released if it never landed. */
  async #resumeSending(): Promise<void> {
    const { o } = this;
    for (const b of o.vouchers.batchesIn(["sending"])) {
      const stored = await o.clients.publicClient.readContract({ address: o.clients.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "batchHash", args: [b.batchId] });
      const txs = o.sender.db.txsFor("batch", sendKey(b.batchId, b.voucherHashes));
      let recorded = false;
      // The batch this one took the slot of, when the send paired its claim (beginBatch archived it).
      const archived = o.vouchers.archivedOf(b.batchId);
      for (const t of txs) {
        const r = await o.clients.publicClient.getTransactionReceipt({ hash: t.hash }).catch(() => undefined);
        if (r?.status === "success") {
          this.#recordCommit(b.batchId, r);
          recorded = true;
          if (archived && parseEventLogs({ abi: voucherEscrowAbi, logs: r.logs, eventName: "BatchClaimed" }).length > 0) o.vouchers.setBatch(archived, { state: "claimed" });
        }
      }
      // Not on-chain: release the jobs unless a send is still pending (the sender resumes it), and
      // give the slot back to the batch it was to replace.
      if (!recorded && (stored === `0x${"00".repeat(32)}` || stored === SETTLED) && !txs.some((t) => t.state === "pending")) o.vouchers.abandonBatch(b.batchId, archived);
    }
  }

  /**
   * Reserve more stake when a new batch's collateral (of charge `total`) would not fit beside
   * what live batches and open publications hold, leaving at least `idle` unheld.
   */
  async #ensureReserve(total: bigint, idle = 0n): Promise<void> {
    const { o } = this;
    const escrow = o.clients.deployment.contracts.voucherEscrow!;
    const [reserve, params] = await Promise.all([
      o.clients.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "reserveOf", args: [o.prover] }),
      o.clients.publicClient.readContract({ address: escrow, abi: voucherEscrowAbi, functionName: "params" }),
    ]);
    const need = reserve.held + (total * BigInt(params.collateralBps)) / 10_000n + idle;
    if (reserve.reserved >= need) return;
    const amount = need - reserve.reserved + o.reserveHeadroom;
    const sent = await o.sender.send({ kind: "reserve", key: "stake", address: escrow, abi: voucherEscrowAbi, functionName: "reserve", args: [amount], what: `reserve ${amount} of stake for voucher batches` });
    await sent.receipt;
    o.log.info({ amount: amount.toString() }, "reserved stake for voucher batches");
  }

  /**
   * Read the court's events on the live batches — one log read a pass from the oldest live
   * commit (court events are rare: a dispute, a challenge) — and apply each batch's.
   */
  async #followCourt(): Promise<void> {
    const live = this.o.vouchers.batchesIn(["committed"]).filter((b) => b.header && b.commitBlock !== undefined);
    if (live.length === 0) return;
    const fromBlock = live.reduce((m, b) => (b.commitBlock! < m ? b.commitBlock! : m), live[0]!.commitBlock!);
    const logs = await this.o.clients.publicClient.getLogs({ address: this.o.clients.deployment.contracts.batchCourt!, fromBlock, toBlock: "latest" });
    const events = parseEventLogs({ abi: batchCourtAbi, logs });
    for (const row of live) await this.#follow(row, events.filter((e) => "batchId" in e.args && (e.args as { batchId: Hex }).batchId.toLowerCase() === row.batchId.toLowerCase()));
  }

  /** Apply a live batch's court events: record adoptions and voids, answer open leaf challenges. */
  async #follow(row: VoucherBatchRow, events: ReturnType<typeof parseEventLogs<typeof batchCourtAbi>>): Promise<void> {
    const { o } = this;
    const header = row.header!;
    const open = new Set<number>();
    for (const ev of events) {
      if (ev.eventName === "JobAdopted") {
        const job = o.vouchers.job(row.voucherHashes[ev.args.index]!);
        if (job && job.jobId === undefined) {
          o.vouchers.setAdopted(row.key, ev.args.index, ev.args.jobId);
          o.onAdopted?.(ev.args.jobId, job);
          o.log.warn({ batchId: row.batchId, index: ev.args.index, jobId: ev.args.jobId.toString(), by: ev.args.by }, "a job of a voucher batch was moved into the JobEscrow (a dispute may follow)");
        }
      }
      else if (ev.eventName === "LeafChallenged") open.add(ev.args.index);
      else if (ev.eventName === "LeafAnswered") open.delete(ev.args.index);
      else if (ev.eventName === "BatchVoided") {
        o.vouchers.setBatch(row.key, { state: "voided" });
        o.log.warn({ batchId: row.batchId, reason: ev.args.reason }, "a voucher batch was voided: its clients are refunded and this node slashed");
        return;
      }
    }
    if (open.size === 0) return;
    const batch = this.batchOf(row);
    for (const index of open) {
      const job = batch.jobs[index]!;
      try {
        const sent = await o.sender.send({
          kind: "answer-leaf",
          key: `${row.batchId}:${index}`,
          address: o.clients.deployment.contracts.batchCourt!,
          abi: batchCourtAbi,
          functionName: "answerLeaf",
          args: [header, batch.debits, BigInt(entryOf(batch.debits, index)), batch.leaves[index]!, index, batch.tree.proof(index), job.voucher, job.signature],
          what: `answer the challenge of leaf ${index} of batch ${row.batchId}`,
        });
        await sent.receipt;
        o.log.info({ batchId: row.batchId, index }, "answered a leaf challenge with the client's voucher");
      } catch (err) {
        o.log.warn({ batchId: row.batchId, index, err: String(err) }, "answering a leaf challenge failed; retried next pass");
      }
    }
  }

  /** Committed batches whose window and holds have passed, with no open challenge. */
  async #claimable(): Promise<{ now: bigint; due: VoucherBatchRow[] }> {
    const { o } = this;
    const committed = o.vouchers.batchesIn(["committed"]).filter((r) => r.header);
    if (committed.length === 0) return { now: 0n, due: [] };
    const now = await getChainTime(this.o.clients);
    const due: VoucherBatchRow[] = [];
    for (const row of committed) {
      if (now <= row.header!.challengeDeadline) continue;
      const state = await readBatchState(o.clients, { batchId: row.batchId });
      if (state.openChallenges === 0 && now > state.holdUntil) due.push(row);
    }
    return { now, due };
  }

  /** Claim `rows` one transaction each (`already`: claimed this pass with a commit), then withdraw the pay. */
  async #claim(rows: readonly VoucherBatchRow[], already: number): Promise<void> {
    const { o } = this;
    let claimed = already;
    for (const row of rows) {
      const header = row.header!;
      try {
        const sent = await o.sender.send({ kind: "claim", key: row.key, address: o.clients.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "claimBatch", args: [header], what: `claim batch ${row.batchId}` });
        await sent.receipt;
        o.vouchers.setBatch(row.key, { state: "claimed" });
        claimed++;
        o.log.info({ batchId: row.batchId, total: header.total.toString() }, "claimed a voucher batch");
      } catch (err) {
        // Settled already (claimed in a transaction whose record a crash lost, or by anyone).
        if (err instanceof TransactionError && err.revertName === "UnknownBatch") {
          o.vouchers.setBatch(row.key, { state: "claimed" });
          continue;
        }
        o.log.warn({ batchId: row.batchId, err: String(err) }, "claiming a voucher batch failed; retried next pass");
      }
    }
    if (claimed === 0) return;
    const book = await o.clients.publicClient.readContract({ address: o.clients.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "book", args: [o.prover] });
    if (book.earned > 0n) {
      const sent = await o.sender.send({ kind: "withdraw-earnings", key: "earnings", address: o.clients.deployment.contracts.voucherEscrow!, abi: voucherEscrowAbi, functionName: "withdrawEarnings", args: [], what: "withdraw voucher batch earnings" });
      await sent.receipt;
      o.log.info({ amount: book.earned.toString() }, "withdrew voucher batch earnings");
    }
  }
}

/** The persisted-send key of one batch: its id and first job (a reused slot's id repeats). */
const sendKey = (batchId: Hex, voucherHashes: readonly Hex[]): string => `${batchId.toLowerCase()}:${(voucherHashes[0] ?? "").toLowerCase()}`;

const servedOf = (r: VoucherJobRow): ServedJob => ({
  voucher: r.voucher,
  voucherHash: r.voucherHash,
  signature: r.signature,
  traceRoot: r.traceRoot!,
  outputRoot: r.outputRoot!,
  outputTokens: r.outputTokenIds!.length,
});
