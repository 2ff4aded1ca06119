import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { hexToBytes, type Hex } from "viem";
import { keccakWasmBytes } from "./keccak-wasm.js";

/**
 * Leaf hashing off the main thread (PROTOCOL §3.2 leaves over §3.1 chunks). The prover's
 * critical path is the model; hashing a token's rows overlaps the next token's compute.
 *
 * A job is a block of rows of one tensor: `rows` consecutive rows starting at `firstRow`,
 * each `rowBytes` long, chunked at `chunkBytes`. Result: 32-byte leaves in (row, chunk) order.
 * The worker is plain JavaScript (eval) so it runs the same under tsx, vitest and node; a test
 * checks its leaves against protocol/commitments chunkLeaf.
 */
export type LeafJob = { domain: Hex; tensorId: number; firstRow: number; rows: number; rowBytes: number; chunkBytes: number; data: Uint8Array };

// The worker instantiates the same wasm keccak (bytes passed in workerData).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const instance = new WebAssembly.Instance(new WebAssembly.Module(workerData.wasm));
const memory = instance.exports.memory;
const absorb = instance.exports.absorb;
let mem = new Uint8Array(memory.buffer);
const RATE = 136, INPUT = 512;
function keccak(data) {
  const padded = (Math.floor(data.byteLength / RATE) + 1) * RATE;
  if (INPUT + padded > mem.byteLength) { memory.grow(Math.ceil((INPUT + padded - mem.byteLength) / 65536)); mem = new Uint8Array(memory.buffer); }
  mem.set(data, INPUT);
  mem.fill(0, INPUT + data.byteLength, INPUT + padded);
  mem[INPUT + data.byteLength] ^= 0x01;
  mem[INPUT + padded - 1] ^= 0x80;
  mem.fill(0, 0, 200);
  absorb(INPUT, padded / RATE);
  return mem.slice(0, 32);
}
const pre = new Uint8Array(160);
const view = new DataView(pre.buffer);
const word = (o, v) => { pre.fill(0, o, o + 24); view.setBigUint64(o + 24, BigInt(v)); };
parentPort.on("message", ({ id, domain, tensorId, firstRow, rows, rowBytes, chunkBytes, data }) => {
  const bytes = new Uint8Array(data);
  const perRow = Math.ceil(rowBytes / chunkBytes);
  const out = new Uint8Array(rows * perRow * 32);
  pre.set(domain, 0);
  word(32, tensorId);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    word(64, firstRow + r);
    for (let c = 0; c < perRow; c++) {
      const start = r * rowBytes + c * chunkBytes;
      const end = r * rowBytes + Math.min((c + 1) * chunkBytes, rowBytes);
      word(96, c);
      pre.set(keccak(bytes.subarray(start, end)), 128);
      out.set(keccak(keccak(pre)), 32 * k++);
    }
  }
  parentPort.postMessage({ id, leaves: out.buffer }, [out.buffer]);
});
`;

export class HashPool {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: unknown) => void }>();
  #next = 0;
  #rr = 0;

  constructor(size = Math.max(1, Math.min(2, availableParallelism() - 1))) {
    const wasm = keccakWasmBytes();
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { wasm } });
      w.unref(); // an idle pool never keeps the process alive
      w.on("message", (m: { id?: number; leaves?: ArrayBuffer }) => {
        if (m.id === undefined) return;
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        p?.resolve(new Uint8Array(m.leaves!));
        if (this.#pending.size === 0) this.#workers.forEach((x) => x.unref());
      });
      w.on("error", (err) => {
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      });
      this.#workers.push(w);
    }
  }

  /** Leaves of a block of rows; `data` is copied (the caller may reuse its buffer). */
  leaves(job: LeafJob): Promise<Uint8Array> {
    const id = this.#next++;
    const w = this.#workers[this.#rr++ % this.#workers.length]!;
    const data = job.data.slice().buffer;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.ref(); // keep the process alive while work is outstanding
      w.postMessage({ id, domain: hexToBytes(job.domain), tensorId: job.tensorId, firstRow: job.firstRow, rows: job.rows, rowBytes: job.rowBytes, chunkBytes: job.chunkBytes, data }, [data]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

let shared: HashPool | undefined;

/** Process-wide pool (workers are cheap to keep, expensive to start). */
export function sharedHashPool(): HashPool {
  shared ??= new HashPool();
  return shared;
}
