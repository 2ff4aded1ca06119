import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync, writevSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";
import { assertDtype, dtypeSize, type Dtype } from "../../protocol/encoding/index.js";
import { StepproofRuntimeError } from "../errors.js";
import type { HiddenData } from "../forward.js";
import type { TraceSink } from "./builder.js";
import { TraceCommitment } from "./commitment.js";
import { TraceLayout } from "./layout.js";
import { TraceReader } from "./trace-reader.js";
import { innerLevels, TreeFileReader } from "./tree-file.js";

/**
 * Disk trace store (PROTOCOL §4.5). One directory per job:
 *   hidden.bin  h[t][l] rows at offset (t·(L+1) + l)·rowBytes, written while generating
 *   leaves.bin  the trace tree's leaves (32 bytes each), written at completion
 *   tree.bin    the tree's inner levels (tree-file.ts), written at completion, so a proof is
 *               one read per level instead of a pass over every leaf
 *   meta.json   layout, tokens, root, timestamps; written last (tmp + rename), so a job without
 *               status "complete" is one whose generation did not finish (e.g. a crash).
 * Everything is re-read from disk on open, so the store survives restarts.
 */
export type TraceStoreOptions = {
  dir: string;
  /** Hard cap on bytes the store may hold; appends beyond it throw TraceStoreFullError. */
  maxBytes: number;
  /** Jobs older than this are pruned (ms; default 7 days, a typical challenge window plus margin). */
  retentionMs?: number;
  /** Settled jobs are pruned this long after settlement (ms; default 0). */
  settledGraceMs?: number;
};

export type JobMeta = {
  jobId: string;
  status: "writing" | "complete";
  layers: number;
  hidden: number;
  chunkSize: number;
  dtype: Dtype;
  createdAt: number;
  settledAt?: number;
  tokens?: number[];
  root?: Hex;
};

export class TraceStoreError extends StepproofRuntimeError {
  override name = "TraceStoreError";
}

export class TraceStoreFullError extends TraceStoreError {
  override name = "TraceStoreFullError";
  constructor(
    readonly usedBytes: number,
    readonly neededBytes: number,
    readonly maxBytes: number,
    /** Room held for admitted jobs' traces not yet written (TraceStore.hold), besides usedBytes. */
    readonly heldBytes = 0,
  ) {
    super(`trace store is full: ${usedBytes} of ${maxBytes} bytes used${heldBytes > 0 ? ` and ${heldBytes} held for admitted jobs` : ""}, ${neededBytes} more needed`, {
      details: "prune settled or expired jobs, raise maxBytes, or stop accepting jobs until traces are released",
    });
  }
}

const JOB_ID = /^[0-9A-Za-z_-]{1,128}$/;
const META = "meta.json";
const HIDDEN = "hidden.bin";
const LEAVES = "leaves.bin";
const TREE = "tree.bin";
/** Readers kept open for the jobs verifiers are reading now (a verifier reads a job in several requests). */
const OPEN_READERS = 64;

export class TraceStore {
  #used = 0;
  /** Bytes left of each admitted job's hold (by job id), and their sum. */
  readonly #held = new Map<string, number>();
  #heldTotal = 0;
  #orphansChecked = false;
  /** createdAt / settledAt of every job on disk, so a prune pass reads no file (kept in step with meta.json). */
  readonly #times = new Map<string, { createdAt: number; settledAt?: number }>();
  /** Most recently used readers last. */
  readonly #readers = new Map<string, TraceReader>();
  readonly retentionMs: number;
  readonly settledGraceMs: number;

  private constructor(readonly options: TraceStoreOptions) {
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.settledGraceMs = options.settledGraceMs ?? 0;
  }

  /** Open (or create) a store and account for what is already on disk. */
  static open(options: TraceStoreOptions): TraceStore {
    if (!(options.maxBytes > 0)) throw new RangeError("maxBytes must be positive");
    mkdirSync(options.dir, { recursive: true });
    const store = new TraceStore(options);
    for (const id of store.jobIds()) {
      store.#used += store.#jobBytes(id);
      try {
        const m = store.meta(id);
        store.#times.set(id, { createdAt: m.createdAt, ...(m.settledAt !== undefined ? { settledAt: m.settledAt } : {}) });
      } catch {
        // no meta: a crash before begin() finished; prune treats it as expired (absent from #times)
      }
    }
    return store;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Room held for admitted jobs' traces and not yet written. */
  get heldBytes(): number {
    return this.#heldTotal;
  }

  /**
   * At most the bytes a job's trace of `tokens` tokens (prompt and output) takes on disk: its
   * rows, its leaves, the tree's inner levels (at most one node per leaf, plus one per level
   * for odd ends) and meta.json (a fixed part and the tokens in decimal).
   */
  static traceBytes(layout: { layers: number; hidden: number; chunkSize: number; dtype: number }, tokens: number): number {
    const l = new TraceLayout(layout.layers, layout.hidden, layout.chunkSize, assertDtype(layout.dtype));
    const leaves = l.leafCount(tokens);
    return (tokens - 1) * (l.layers + 1) * l.rowBytes + 32 * leaves + 32 * (leaves + 64) + 1024 + 11 * tokens;
  }

  /**
   * Hold room for an admitted job's trace before anything of it is written (PROTOCOL §4.5): the
   * job's appends draw on its hold first, and a hold is refused (TraceStoreFullError) when the
   * bytes on disk, every other hold and this one exceed maxBytes, so jobs admitted side by side
   * cannot together overrun the store halfway through their generations. A job holds once
   * (TraceStoreError otherwise): a second request for it must not take over the first's hold.
   */
  hold(jobId: string, bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`a hold is a whole number of bytes, got ${bytes}`);
    if (this.#held.has(jobId)) throw new TraceStoreError(`job ${jobId} already holds room in the trace store`, { details: "another request for it is being admitted or served" });
    if (this.#used + this.#heldTotal + bytes > this.options.maxBytes) throw new TraceStoreFullError(this.#used, bytes, this.options.maxBytes, this.#heldTotal);
    this.#held.set(jobId, bytes);
    this.#heldTotal += bytes;
  }

  /** Drop what is left of a job's hold (its trace is complete, abandoned, or never begun). */
  release(jobId: string): void {
    const left = this.#held.get(jobId);
    if (left === undefined) return;
    this.#held.delete(jobId);
    this.#heldTotal -= left;
  }

  jobIds(): string[] {
    return readdirSync(this.options.dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && JOB_ID.test(e.name))
      .map((e) => e.name)
      .sort();
  }

  #jobDir(jobId: string): string {
    if (!JOB_ID.test(jobId)) throw new TraceStoreError(`invalid job id ${JSON.stringify(jobId)}`, { details: "use 1-128 characters of [0-9A-Za-z_-]" });
    return join(this.options.dir, jobId);
  }

  #jobBytes(jobId: string): number {
    const d = join(this.options.dir, jobId);
    return readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
  }

  /**
   * Account for `bytes` about to be written for `jobId`: its own hold pays first; the rest must
   * fit beside every other hold. `uncapped`: a few bytes that must not fail (settlement's meta
   * rewrite, without which a settled trace would be kept until retention).
   */
  #reserve(bytes: number, jobId?: string, uncapped = false): void {
    const hold = jobId === undefined ? undefined : this.#held.get(jobId);
    const own = Math.min(bytes, hold ?? 0);
    const others = this.#heldTotal - own;
    if (!uncapped && this.#used + others + bytes > this.options.maxBytes) throw new TraceStoreFullError(this.#used, bytes, this.options.maxBytes, others);
    if (hold !== undefined) this.#held.set(jobId!, hold - own);
    this.#heldTotal -= own;
    this.#used += bytes;
  }

  meta(jobId: string): JobMeta {
    const file = join(this.#jobDir(jobId), META);
    if (!existsSync(file)) throw new TraceStoreError(`no trace for job ${jobId}`);
    return JSON.parse(readFileSync(file, "utf8")) as JobMeta;
  }

  #writeMeta(meta: JobMeta, uncapped = false): void {
    const dir = this.#jobDir(meta.jobId);
    const bytes = Buffer.from(JSON.stringify(meta));
    const old = existsSync(join(dir, META)) ? statSync(join(dir, META)).size : 0;
    this.#reserve(Math.max(0, bytes.byteLength - old), meta.jobId, uncapped);
    writeFileSync(join(dir, `${META}.tmp`), bytes);
    renameSync(join(dir, `${META}.tmp`), join(dir, META));
    this.#times.set(meta.jobId, { createdAt: meta.createdAt, ...(meta.settledAt !== undefined ? { settledAt: meta.settledAt } : {}) });
  }

  /** Start a job's trace; the returned writer is the TraceSink to pass to generate(). */
  begin(jobId: string, layout: { layers: number; hidden: number; chunkSize: number; dtype: number }, now = Date.now()): TraceJobWriter {
    const dir = this.#jobDir(jobId);
    if (existsSync(dir)) throw new TraceStoreError(`job ${jobId} already has a trace`);
    mkdirSync(dir);
    this.#writeMeta({ jobId, status: "writing", ...layout, dtype: assertDtype(layout.dtype), createdAt: now });
    return new TraceJobWriter(this, jobId, new TraceLayout(layout.layers, layout.hidden, layout.chunkSize, assertDtype(layout.dtype)), dir, (n) => this.#reserve(n, jobId), (m) => this.#writeMeta(m));
  }

  /** A completed job's trace, read back from disk, with proofs for any chunk or token. */
  read(jobId: string): TraceCommitment {
    const meta = this.meta(jobId);
    if (meta.status !== "complete" || !meta.tokens || !meta.root) throw new TraceStoreError(`trace of job ${jobId} is incomplete`, { details: "generation did not finish; it cannot be proven" });
    const layout = new TraceLayout(meta.layers, meta.hidden, meta.chunkSize, meta.dtype);
    const dir = this.#jobDir(jobId);
    const raw = readFileSync(join(dir, LEAVES));
    const rows = new DiskRows(join(dir, HIDDEN), layout);
    const trace = new TraceCommitment(layout, meta.tokens, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), rows);
    if (trace.root !== meta.root) throw new TraceStoreError(`stored trace of job ${jobId} does not match its root`, { details: `root ${meta.root}, leaves give ${trace.root}` });
    return trace;
  }

  /**
   * A reader that serves slices of a completed trace at a cost proportional to what it returns
   * (trace-reader.ts); cached, so the several requests of one verifier reuse its descriptors.
   * A trace completed before tree.bin existed gets its inner levels written once, here.
   */
  reader(jobId: string): TraceReader {
    const cached = this.#readers.get(jobId);
    if (cached) {
      this.#readers.delete(jobId);
      this.#readers.set(jobId, cached);
      return cached;
    }
    const meta = this.meta(jobId);
    if (meta.status !== "complete" || !meta.tokens || !meta.root) throw new TraceStoreError(`trace of job ${jobId} is incomplete`, { details: "generation did not finish; it cannot be proven" });
    const layout = new TraceLayout(meta.layers, meta.hidden, meta.chunkSize, meta.dtype);
    const dir = this.#jobDir(jobId);
    if (!existsSync(join(dir, TREE))) {
      const leaves = readFileSync(join(dir, LEAVES));
      this.#writeTree(dir, new Uint8Array(leaves.buffer, leaves.byteOffset, leaves.byteLength), meta.root);
    }
    const reader = new TraceReader(jobId, layout, meta.tokens, meta.root, join(dir, HIDDEN), new TreeFileReader(join(dir, LEAVES), join(dir, TREE), layout.leafCount(meta.tokens.length)));
    this.#readers.set(jobId, reader);
    if (this.#readers.size > OPEN_READERS) this.#closeReader(this.#readers.keys().next().value!);
    return reader;
  }

  /**
   * Write tree.bin for packed leaves whose root must be `root` (reserving its bytes); `levels`:
   * their inner levels when the caller hashed them already (a finished trace has).
   */
  #writeTree(dir: string, leaves: Uint8Array, root: Hex, levels: Uint8Array = innerLevels(leaves), jobId?: string): void {
    const top = levels.byteLength ? levels.subarray(levels.byteLength - 32) : leaves;
    if (Buffer.from(top).toString("hex") !== root.slice(2).toLowerCase()) throw new TraceStoreError(`stored leaves in ${dir} do not match the recorded root ${root}`);
    this.#reserve(levels.byteLength, jobId);
    writeFileSync(join(dir, `${TREE}.tmp`), levels);
    renameSync(join(dir, `${TREE}.tmp`), join(dir, TREE));
  }

  /** Used by the writer: seal the tree file of a completing job. */
  writeTreeFor(jobId: string, leaves: Uint8Array, root: Hex, levels?: Uint8Array): void {
    this.#writeTree(this.#jobDir(jobId), leaves, root, levels, jobId);
  }

  #closeReader(jobId: string): void {
    this.#readers.get(jobId)?.close();
    this.#readers.delete(jobId);
  }

  /** Record settlement (the job can no longer be challenged); pruned after settledGraceMs. */
  markSettled(jobId: string, now = Date.now()): void {
    // Uncapped: the rewrite grows meta.json by a timestamp, and a full store must still learn
    // that a trace is settled, or it keeps it until retention.
    this.#writeMeta({ ...this.meta(jobId), settledAt: now }, true);
  }

  /** Delete jobs past retention or settled (plus grace); returns the removed ids. */
  prune(now = Date.now()): string[] {
    const removed: string[] = [];
    // Directories without meta (a crash inside begin()) exist only from before this process
    // opened the store, so the directory listing is needed once; after that #times is complete.
    const ids = this.#orphansChecked ? [...this.#times.keys()] : this.jobIds();
    this.#orphansChecked = true;
    for (const id of ids) {
      const times = this.#times.get(id);
      const expired = !times || now - times.createdAt >= this.retentionMs;
      const settled = times?.settledAt !== undefined && now - times.settledAt >= this.settledGraceMs;
      if (expired || settled) {
        this.remove(id);
        removed.push(id);
      }
    }
    return removed;
  }

  remove(jobId: string): void {
    const dir = this.#jobDir(jobId);
    this.#closeReader(jobId);
    this.#times.delete(jobId);
    if (!existsSync(dir)) return;
    this.#used -= this.#jobBytes(jobId);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Appends rows of one job while it is generated (implements TraceSink). A position's L+1 rows
 * are contiguous in hidden.bin and arrive one boundary at a time, so they are gathered here and
 * written once the position is whole: one write per position (a prefill's positions in one
 * write) instead of one per row, a system call the serving loop paid per row on its thread.
 */
export class TraceJobWriter implements TraceSink {
  readonly #fd: number;
  /** Positions with some of their rows: the position's L+1 rows, which are set, how many. */
  readonly #partial = new Map<number, { rows: Uint8Array; set: Uint8Array; filled: number }>();
  /** Positions whose rows are on disk. */
  readonly #written = new Set<number>();

  constructor(
    readonly store: TraceStore,
    readonly jobId: string,
    readonly layout: TraceLayout,
    readonly dir: string,
    readonly reserve: (bytes: number) => void,
    readonly writeMeta: (m: JobMeta) => void,
  ) {
    writeFileSync(join(dir, HIDDEN), new Uint8Array(0), { flag: "a" }); // create if missing
    this.#fd = openSync(join(dir, HIDDEN), "r+");
  }

  appendRows(layer: number, firstPosition: number, data: HiddenData, rows: number): void {
    const { rowBytes, layers } = this.layout;
    const positionBytes = (layers + 1) * rowBytes;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let r = 0; r < rows; r++) {
      const t = firstPosition + r;
      if (this.#written.has(t)) {
        // A row of a position already on disk, written again: it replaces the row in place.
        writeSync(this.#fd, bytes, r * rowBytes, rowBytes, t * positionBytes + layer * rowBytes);
        continue;
      }
      let p = this.#partial.get(t);
      if (!p) this.#partial.set(t, (p = { rows: new Uint8Array(positionBytes), set: new Uint8Array(layers + 1), filled: 0 }));
      p.rows.set(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), layer * rowBytes);
      if (p.set[layer] === 0) {
        p.set[layer] = 1;
        p.filled++;
      }
    }
    // Positions this call made whole go to disk, consecutive ones (a prefill's) in one writev
    // from their own buffers.
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      this.reserve(run.length * positionBytes); // may refuse (TraceStoreFullError): nothing written, nothing marked
      writevSync(this.#fd, run.map((t) => this.#partial.get(t)!.rows), run[0]! * positionBytes);
      for (const t of run) {
        this.#partial.delete(t);
        this.#written.add(t);
      }
      run = [];
    };
    for (let t = firstPosition; t < firstPosition + rows; t++) {
      const p = this.#partial.get(t);
      if (p && p.filled === layers + 1) run.push(t);
      else flush();
    }
    flush();
  }

  /** Give up on a job (generation failed, e.g. TraceStoreFullError): close and delete it. */
  abort(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed by complete()
    }
    this.store.remove(this.jobId);
    this.store.release(this.jobId);
  }

  /** Seal the job: leaves, tokens and root; after this `store.read(jobId)` serves proofs. */
  complete(trace: TraceCommitment): void {
    closeSync(this.#fd);
    if (this.#partial.size > 0) throw new TraceStoreError(`job ${this.jobId}: ${this.#partial.size} positions have only some of their rows (first: ${Math.min(...this.#partial.keys())})`);
    const leaves = trace.packedLeaves;
    this.reserve(leaves.byteLength);
    writeFileSync(join(this.dir, LEAVES), leaves);
    this.store.writeTreeFor(this.jobId, leaves, trace.root, trace.innerLevels());
    const meta = this.store.meta(this.jobId);
    this.writeMeta({ ...meta, status: "complete", tokens: [...trace.tokens], root: trace.root });
    this.store.release(this.jobId); // written: what is left of the hold goes back
  }
}

/** Rows read on demand from hidden.bin (open per read: no descriptor outlives a call). */
class DiskRows {
  constructor(
    readonly file: string,
    readonly layout: TraceLayout,
  ) {}

  row(t: number, layer: number): HiddenData {
    const { rowBytes, layers, hidden } = this.layout;
    const offset = (t * (layers + 1) + layer) * rowBytes;
    const buf = new ArrayBuffer(rowBytes);
    const fd = openSync(this.file, "r");
    try {
      if (offset + rowBytes > fstatSync(fd).size) throw new TraceStoreError(`row t=${t} l=${layer} is missing on disk`);
      readSync(fd, new Uint8Array(buf), 0, rowBytes, offset);
    } finally {
      closeSync(fd);
    }
    return dtypeSize(this.layout.dtype) === 2 ? new Uint16Array(buf, 0, hidden) : new Float32Array(buf, 0, hidden);
  }
}
