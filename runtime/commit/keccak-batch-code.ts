/**
 * WebAssembly code of the keccak module's two batch functions (runtime/commit/keccak-wasm.ts),
 * which keep whole loops of hashes inside wasm: JavaScript's share of a 192-byte chunk's leaf
 * (copies, padding, five calls) cost about as much as its five permutations.
 *
 * - `noise(msg, out, first, count)`: for g = first.., writes g big-endian into bytes 92..96
 *   of the one-block message at `msg` (96 bytes, padded by the caller) and stores its digest
 *   at out + 32·i: PROTOCOL §4.4's noise digests, one per 4 vocabulary ids.
 * - `leaves(src, rowBytes, chunkBytes, rows, firstRow, pre, scratch, out)`: the §3.2 leaves of
 *   `rows` rows at `src`, chunk by chunk, into out (32 bytes each, (row, chunk) order). `pre`
 *   holds the 160-byte preimage with domain and tensorId set, zero row/chunk words and its
 *   padding (272 bytes); `scratch` has room for a padded chunk.
 * - `pairs(src, n, out, scratch)`: the next level of a PROTOCOL §3.3 tree: for each pair of
 *   the n 32-byte nodes at `src`, keccak256 of the two sorted (byte-wise, smaller first) into
 *   out + 32·i, and an odd last node copied up. `scratch` holds one 136-byte block padded for
 *   a 64-byte message (0x01 at 64, 0x80 at 135); the loop writes only its first 64 bytes.
 * All call function 0 (`absorb`) per hash, which loads and stores the state; the state is
 * zeroed before each hash.
 */
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const tee = (i: number) => [0x22, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const ADD = 0x6a;
const SUB = 0x6b;
const MUL = 0x6c;
const DIV_U = 0x6e;
const AND = 0x71;
const OR = 0x72;
const SHL = 0x74;
const SHR_U = 0x76;
const LT_U = 0x49;
const GE_U = 0x4f;
const EQZ = 0x45;
const SELECT = 0x1b;
const store32 = (offset: number) => [0x36, 0x00, ...uleb(offset)];
const store8 = (offset: number) => [0x3a, 0x00, ...uleb(offset)];
const load8 = (offset: number) => [0x2d, 0x00, ...uleb(offset)];
const COPY = [0xfc, 0x0a, 0x00, 0x00]; // memory.copy (dst, src, n)
const FILL = [0xfc, 0x0b, 0x00]; // memory.fill (dst, value, n)
const CALL_ABSORB = [0x10, 0x00];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (depth: number) => [0x0c, depth];
const brIf = (depth: number) => [0x0d, depth];
const ZERO_STATE = [...i32(0), ...i32(0), ...i32(200), ...FILL];

/** Big-endian i32 of local `l` (wasm stores little-endian). */
function bswap(l: number): number[] {
  return [
    ...get(l), ...i32(24), SHL,
    ...get(l), ...i32(0xff00), AND, ...i32(8), SHL, OR,
    ...get(l), ...i32(8), SHR_U, ...i32(0xff00), AND, OR,
    ...get(l), ...i32(24), SHR_U, OR,
  ];
}

/** `local += by` */
const bump = (l: number, by: number[]) => [...get(l), ...by, ADD, ...set(l)];

/** Byte offset of the group index (the low 4 bytes of the last word) in a 96-byte noise message. */
export const NOISE_GROUP_OFFSET = 92;

/** Body of noise(msg 0, out 1, first 2, count 3); no other locals. */
export function noiseBody(): number[] {
  const [MSG, OUT, FIRST, COUNT] = [0, 1, 2, 3];
  return [
    0x00, // no locals
    ...BLOCK, ...LOOP,
    ...get(COUNT), EQZ, ...brIf(1),
    ...get(MSG), ...bswap(FIRST), ...store32(NOISE_GROUP_OFFSET),
    ...ZERO_STATE,
    ...get(MSG), ...i32(1), ...CALL_ABSORB,
    ...get(OUT), ...i32(0), ...i32(32), ...COPY,
    ...bump(OUT, i32(32)), ...bump(FIRST, i32(1)), ...bump(COUNT, i32(-1)),
    ...br(0), ...END, ...END,
    ...END,
  ];
}

/** Body of leaves(src 0, rowBytes 1, chunkBytes 2, rows 3, firstRow 4, pre 5, scratch 6, out 7); locals off 8, len 9, padded 10, chunk 11, tmp 12. */
export function leavesBody(): number[] {
  const [SRC, ROW_BYTES, CHUNK_BYTES, ROWS, ROW, PRE, S, OUT, OFF, LEN, PADDED, CHUNK, TMP] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  return [
    0x01, 0x05, 0x7f, // 5 × i32 locals
    ...BLOCK, ...LOOP, // rows
    ...get(ROWS), EQZ, ...brIf(1),
    ...get(PRE), ...bswap(ROW), ...store32(92), // row word, low 4 bytes
    ...i32(0), ...set(OFF), ...i32(0), ...set(CHUNK),
    ...BLOCK, ...LOOP, // chunks of the row
    ...get(OFF), ...get(ROW_BYTES), GE_U, ...brIf(1),
    // len = min(chunkBytes, rowBytes − off)
    ...get(ROW_BYTES), ...get(OFF), SUB, ...set(LEN),
    ...get(LEN), ...get(CHUNK_BYTES), ...get(LEN), ...get(CHUNK_BYTES), LT_U, SELECT, ...set(LEN),
    // the chunk into scratch, padded: 0x01 after it, 0x80 in the last byte of its last block
    ...get(S), ...get(SRC), ...get(OFF), ADD, ...get(LEN), ...COPY,
    ...get(LEN), ...i32(136), DIV_U, ...i32(1), ADD, ...i32(136), MUL, ...set(PADDED),
    ...get(S), ...get(LEN), ADD, ...i32(0), ...get(PADDED), ...get(LEN), SUB, ...FILL,
    ...get(S), ...get(LEN), ADD, ...i32(1), ...store8(0),
    ...get(S), ...get(PADDED), ADD, ...i32(1), SUB, ...tee(TMP), ...get(TMP), ...load8(0), ...i32(0x80), OR, ...store8(0),
    ...ZERO_STATE, ...get(S), ...get(PADDED), ...i32(136), DIV_U, ...CALL_ABSORB,
    // preimage: chunk hash at 128, chunk index (low 4 bytes of its word) at 124
    ...get(PRE), ...i32(128), ADD, ...i32(0), ...i32(32), ...COPY,
    ...get(PRE), ...bswap(CHUNK), ...store32(124),
    ...ZERO_STATE, ...get(PRE), ...i32(2), ...CALL_ABSORB,
    // second hash of the 32-byte digest, padded in scratch
    ...get(S), ...i32(0), ...i32(32), ...COPY,
    ...get(S), ...i32(32), ADD, ...i32(0), ...i32(104), ...FILL,
    ...get(S), ...i32(1), ...store8(32),
    ...get(S), ...i32(0x80), ...store8(135),
    ...ZERO_STATE, ...get(S), ...i32(1), ...CALL_ABSORB,
    ...get(OUT), ...i32(0), ...i32(32), ...COPY,
    ...bump(OUT, i32(32)), ...bump(OFF, get(CHUNK_BYTES)), ...bump(CHUNK, i32(1)),
    ...br(0), ...END, ...END,
    ...bump(SRC, get(ROW_BYTES)), ...bump(ROW, i32(1)), ...bump(ROWS, i32(-1)),
    ...br(0), ...END, ...END,
    ...END,
  ];
}

/** Body of pairs(src 0, n 1, out 2, scratch 3); locals a 4, k 5, x 6, y 7. */
export function pairsBody(): number[] {
  const [SRC, N, OUT, S, A, K, X, Y] = [0, 1, 2, 3, 4, 5, 6, 7];
  const copy32 = (dst: number[], src: number[]) => [...dst, ...src, ...i32(32), ...COPY];
  return [
    0x01, 0x04, 0x7f, // 4 × i32 locals
    ...BLOCK, ...LOOP, // pairs
    ...get(N), ...i32(2), LT_U, ...brIf(1),
    ...get(SRC), ...set(A),
    // compare a = src[0,32) with b = src[32,64) byte by byte; x, y: the first differing bytes (0, 0 if equal)
    ...i32(0), ...set(K), ...i32(0), ...set(X), ...i32(0), ...set(Y),
    ...BLOCK, ...LOOP,
    ...get(K), ...i32(32), GE_U, ...brIf(1),
    ...get(A), ...get(K), ADD, ...load8(0), ...set(X),
    ...get(A), ...get(K), ADD, ...load8(32), ...set(Y),
    ...get(X), ...get(Y), 0x47, ...brIf(1), // x ≠ y: decided
    ...bump(K, i32(1)),
    ...br(0), ...END, ...END,
    // smaller first: if x > y the second word goes first
    ...get(X), ...get(Y), 0x4b, // i32.gt_u
    0x04, 0x40, // if
    ...copy32(get(S), [...get(A), ...i32(32), ADD]), ...copy32([...get(S), ...i32(32), ADD], get(A)),
    0x05, // else
    ...get(S), ...get(A), ...i32(64), ...COPY,
    ...END,
    ...ZERO_STATE, ...get(S), ...i32(1), ...CALL_ABSORB,
    ...copy32(get(OUT), i32(0)),
    ...bump(OUT, i32(32)), ...bump(SRC, i32(64)), ...bump(N, i32(-2)),
    ...br(0), ...END, ...END,
    // an odd last node moves up unchanged
    ...get(N), ...i32(1), 0x46, // i32.eq
    0x04, 0x40, ...copy32(get(OUT), get(SRC)), ...END,
    ...END,
  ];
}

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer (i32.const). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
