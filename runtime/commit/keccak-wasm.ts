/**
 * Keccak-256 (Ethereum's, padding 0x01…0x80) with the Keccak-f[1600] permutation in a small
 * WebAssembly module emitted below. JavaScript keccak works on 32-bit halves of each lane and
 * hashes ~10 MB/s on the project's machines, which made trace hashing cost more than the model
 * (bench:trace); wasm's native i64 lanes are several times faster. Padding is done in JS; the
 * module absorbs whole 136-byte blocks. Tests compare it with viem/noble on random inputs.
 *
 * Memory: state lanes at [0, 200), round constants at [200, 392), input from 512.
 */
import { leavesBody, NOISE_GROUP_OFFSET, noiseBody, pairsBody, uleb } from "./keccak-batch-code.js";

const RC = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn, 0x0000000080000001n,
  0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n, 0x0000000080008009n, 0x000000008000000an,
  0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n, 0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n,
  0x000000000000800an, 0x800000008000000an, 0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
];
/** Rotation offsets r[x][y]. */
const ROT = [
  [0, 36, 3, 41, 18],
  [1, 44, 10, 45, 2],
  [62, 6, 43, 15, 61],
  [28, 55, 25, 21, 56],
  [27, 20, 39, 8, 14],
];
const RATE = 136;
const INPUT = 512;
/** PROTOCOL §4.4 noise message: abi.encode(uint64 seed, uint256 p, uint256 group). */
const NOISE_BYTES = NOISE_GROUP_OFFSET + 4;

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * The module's bytes: exports `memory`, `absorb(ptr: i32, blocks: i32)` and the batch functions
 * `noise` and `leaves` (runtime/commit/keccak-batch-code.ts).
 */
export function keccakWasmBytes(): Uint8Array {
  // Locals: 0 ptr, 1 blocks (params), 2 round (i32), a 3..27, b 28..52, c 53..57, d 58..62 (i64).
  const A = (i: number) => 3 + i;
  const B = (i: number) => 28 + i;
  const Cc = (i: number) => 53 + i;
  const D = (i: number) => 58 + i;
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const XOR = 0x85;
  const AND = 0x83;
  const ROTL = 0x89;
  const i64c = (v: number) => [0x42, ...uleb(v)]; // small non-negative constants only (rotations < 64)
  const load = (offset: number) => [0x29, 0x03, ...uleb(offset)];
  const store = (offset: number) => [0x37, 0x03, ...uleb(offset)];
  const code: number[] = [];
  const e = (...xs: number[][]) => xs.forEach((x) => code.push(...x));
  for (let i = 0; i < 25; i++) e([0x41, 0x00], load(8 * i), set(A(i)));
  e([0x02, 0x40, 0x03, 0x40]); // block, loop (blocks)
  e(get(1), [0x45, 0x0d, 0x01]); // if blocks == 0 break
  for (let i = 0; i < RATE / 8; i++) e(get(A(i)), get(0), load(8 * i), [XOR], set(A(i)));
  e([0x41, 0x00], set(2), [0x03, 0x40]); // round = 0; loop (rounds)
  for (let x = 0; x < 5; x++) e(get(A(x)), get(A(x + 5)), [XOR], get(A(x + 10)), [XOR], get(A(x + 15)), [XOR], get(A(x + 20)), [XOR], set(Cc(x)));
  for (let x = 0; x < 5; x++) e(get(Cc((x + 4) % 5)), get(Cc((x + 1) % 5)), i64c(1), [ROTL], [XOR], set(D(x)));
  for (let i = 0; i < 25; i++) e(get(A(i)), get(D(i % 5)), [XOR], set(A(i)));
  for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) e(get(A(x + 5 * y)), i64c(ROT[x]![y]!), [ROTL], set(B(y + 5 * ((2 * x + 3 * y) % 5))));
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      // a = b ^ (~b1 & b2); ~v = v ^ -1 (i64.const -1 is the one-byte sleb 0x7f)
      e(get(B(x + 5 * y)), get(B(((x + 1) % 5) + 5 * y)), [0x42, 0x7f, XOR], get(B(((x + 2) % 5) + 5 * y)), [AND, XOR], set(A(x + 5 * y)));
    }
  }
  e(get(A(0)), get(2), [0x41, 0x08, 0x6c], load(200), [XOR], set(A(0))); // iota
  e(get(2), [0x41, 0x01, 0x6a], [0x22, ...uleb(2)], [0x41, 24, 0x49, 0x0d, 0x00, 0x0b]); // round++ < 24 → continue; end
  e(get(0), [0x41, ...uleb(RATE), 0x6a], set(0), get(1), [0x41, 0x01, 0x6b], set(1), [0x0c, 0x00, 0x0b, 0x0b]); // next block; end loop, block
  for (let i = 0; i < 25; i++) e([0x41, 0x00], get(A(i)), store(8 * i));
  code.push(0x0b);
  const body = [0x02, 0x01, 0x7f, 0x3c, 0x7e, ...code]; // locals: 1 × i32, 60 × i64
  const noise = noiseBody();
  const leaves = leavesBody();
  const pairs = pairsBody();
  const rc = new Uint8Array(RC.length * 8);
  RC.forEach((v, i) => new DataView(rc.buffer).setBigUint64(8 * i, v, true));
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    // types: 0 (i32, i32) -> (), 1 (4 × i32) -> (), 2 (8 × i32) -> ()
    ...section(1, [0x03, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x04, ...Array(4).fill(0x7f), 0x00, 0x60, 0x08, ...Array(8).fill(0x7f), 0x00]),
    ...section(3, [0x04, 0x00, 0x01, 0x02, 0x01]), // absorb, noise, leaves, pairs
    ...section(5, [0x01, 0x00, 0x01]), // memory: min 1 page
    ...section(7, [
      0x05,
      0x06, ...Buffer.from("memory"), 0x02, 0x00,
      0x06, ...Buffer.from("absorb"), 0x00, 0x00,
      0x05, ...Buffer.from("noise"), 0x00, 0x01,
      0x06, ...Buffer.from("leaves"), 0x00, 0x02,
      0x05, ...Buffer.from("pairs"), 0x00, 0x03,
    ]),
    ...section(10, [0x04, ...[body, noise, leaves, pairs].flatMap((b) => [...uleb(b.length), ...b])]),
    ...section(11, [0x01, 0x00, 0x41, ...uleb(200), 0x0b, ...uleb(rc.length), ...rc]),
  ];
  return Uint8Array.from(bytes);
}

// The project's tsconfig has no DOM lib; declare the part of the WebAssembly global we use.
type WasmMemory = { buffer: ArrayBuffer; grow(pages: number): number };
const Wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: Record<string, unknown> } } }).WebAssembly;

type NoiseFn = (msg: number, out: number, first: number, count: number) => void;
type LeavesFn = (src: number, rowBytes: number, chunkBytes: number, rows: number, firstRow: number, pre: number, scratch: number, out: number) => void;
type PairsFn = (src: number, n: number, out: number, scratch: number) => void;

/**
 * One module instance (not re-entrant; one per thread). `hashInPlace` hashes `len` bytes
 * already at `ptr` (with room for padding after them) and leaves the digest in state bytes
 * [0, 32), so callers can chain hashes without copying through JavaScript.
 */
export class KeccakWasm {
  readonly #memory: WasmMemory;
  readonly #absorb: (ptr: number, blocks: number) => void;
  readonly #noise: NoiseFn;
  readonly #leaves: LeavesFn;
  readonly #pairs: PairsFn;
  mem: Uint8Array;

  constructor() {
    const instance = new Wasm.Instance(new Wasm.Module(keccakWasmBytes()));
    this.#memory = instance.exports.memory as WasmMemory;
    this.#absorb = instance.exports.absorb as (ptr: number, blocks: number) => void;
    this.#noise = instance.exports.noise as NoiseFn;
    this.#leaves = instance.exports.leaves as LeavesFn;
    this.#pairs = instance.exports.pairs as PairsFn;
    this.mem = new Uint8Array(this.#memory.buffer);
  }

  /**
   * Digests of the 96-byte message `message` with its last 4 bytes replaced by each group
   * first..first+count−1 (big-endian): PROTOCOL §4.4's noise. Returns a view into wasm memory
   * (count × 32 bytes), valid until the next call.
   */
  noiseDigests(message: Uint8Array, first: number, count: number): Uint8Array {
    if (message.byteLength !== NOISE_BYTES) throw new RangeError(`a noise message is ${NOISE_BYTES} bytes`);
    const out = INPUT + 512;
    const mem = this.ensure(out + 32 * count);
    mem.set(message, INPUT);
    mem.fill(0, INPUT + NOISE_BYTES, INPUT + RATE);
    mem[INPUT + NOISE_BYTES] = 0x01;
    mem[INPUT + RATE - 1] = 0x80;
    this.#noise(INPUT, out, first, count);
    return this.mem.subarray(out, out + 32 * count);
  }

  /**
   * PROTOCOL §3.2 leaves of `rows` rows of `rowBytes` bytes (in `data`), each chunked at
   * `chunkBytes`, for tensor `tensorId` from row `firstRow` on; `domain` is the 32-byte leaf
   * domain. Returns a view into wasm memory (32 bytes per chunk, (row, chunk) order), valid
   * until the next call. Rows and chunk indices must be < 2^32, tensorId < 2^53.
   */
  leaves(domain: Uint8Array, tensorId: number, firstRow: number, data: Uint8Array, rows: number, rowBytes: number, chunkBytes: number): Uint8Array {
    if (data.byteLength !== rows * rowBytes) throw new RangeError(`expected ${rows} rows of ${rowBytes} bytes, got ${data.byteLength}`);
    if (firstRow + rows > 2 ** 32 || chunkBytes < 1) throw new RangeError("rows must be below 2^32 and chunks non-empty");
    const pre = INPUT;
    const scratch = INPUT + 512;
    const src = scratch + align8(chunkBytes + 2 * RATE);
    const out = src + align8(data.byteLength);
    const count = rows * Math.ceil(rowBytes / chunkBytes);
    const mem = this.ensure(out + 32 * count);
    mem.fill(0, pre, pre + 2 * RATE);
    mem.set(domain, pre);
    putUint(mem, pre + 32, tensorId);
    mem[pre + 160] = 0x01;
    mem[pre + 2 * RATE - 1] = 0x80;
    mem.set(data, src);
    this.#leaves(src, rowBytes, chunkBytes, rows, firstRow, pre, scratch, out);
    return this.mem.subarray(out, out + 32 * count);
  }

  /**
   * The level above `level` (n packed 32-byte nodes) in a PROTOCOL §3.3 tree: sorted-pair
   * hashes, an odd last node promoted; ⌈n/2⌉ nodes, in a new array (the whole level is hashed in
   * one call into wasm).
   */
  pairs(level: Uint8Array): Uint8Array {
    const n = level.byteLength / 32;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`a tree level is a positive number of 32-byte nodes, got ${level.byteLength} bytes`);
    const scratch = INPUT;
    const src = INPUT + RATE + 8;
    const out = src + level.byteLength;
    const mem = this.ensure(out + 16 * (n + 1));
    mem.fill(0, scratch, scratch + RATE);
    mem[scratch + 64] = 0x01;
    mem[scratch + RATE - 1] = 0x80;
    mem.set(level, src);
    this.#pairs(src, n, out, scratch);
    return this.mem.slice(out, out + 32 * Math.ceil(n / 2));
  }

  /** Make memory at least `bytes` long; returns the (possibly new) view. */
  ensure(bytes: number): Uint8Array {
    if (bytes > this.mem.byteLength) {
      this.#memory.grow(Math.ceil((bytes - this.mem.byteLength) / 65536));
      this.mem = new Uint8Array(this.#memory.buffer);
    }
    return this.mem;
  }

  /** Pad and absorb `len` bytes at `ptr`; digest in mem[0, 32). */
  hashInPlace(ptr: number, len: number): void {
    const padded = (Math.floor(len / RATE) + 1) * RATE;
    const mem = this.ensure(ptr + padded);
    mem.fill(0, ptr + len, ptr + padded);
    mem[ptr + len]! ^= 0x01;
    mem[ptr + padded - 1]! ^= 0x80;
    mem.fill(0, 0, 200);
    this.#absorb(ptr, padded / RATE);
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** The low 8 bytes of a big-endian uint256 word at `offset` (the rest must be zero). */
function putUint(mem: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a safe uint`);
  let hi = Math.floor(value / 2 ** 32);
  let lo = value >>> 0;
  for (let i = 31; i >= 28; i--, lo >>>= 8) mem[offset + i] = lo & 0xff;
  for (let i = 27; i >= 24; i--, hi >>>= 8) mem[offset + i] = hi & 0xff;
}

/** Offset from which callers may place their own data (above state and constants). */
export const WASM_SCRATCH = INPUT;

/** A keccak256 function backed by one module instance (not re-entrant; one per thread). */
export function createKeccak256(): (data: Uint8Array) => Uint8Array {
  const k = new KeccakWasm();
  return (data: Uint8Array): Uint8Array => {
    k.ensure(INPUT + data.byteLength + RATE).set(data, INPUT);
    k.hashInPlace(INPUT, data.byteLength);
    return k.mem.slice(0, 32);
  };
}
