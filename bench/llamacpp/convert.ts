/**
 * A stepproof model package converted from a llama2.c checkpoint (stories15M, `npm run
 * model:fetch`) → a llama.cpp GGUF of the same weights, for bench:serve's llama.cpp speed anchor.
 *
 * Weights come from the package, not the checkpoint, so llama.cpp runs exactly the numbers the
 * runtime commits and runs: binary16 values, widened to F32 (`F32`), copied bit for bit (`F16`)
 * or quantized (`Q8_0`, 32-weight blocks; the norms stay F32 in every variant, as llama.cpp's
 * converters keep 1-D tensors). The package stores Wq and Wk with each head's rows in
 * rotate-half order (PROTOCOL §4.2; see runtime/model/llama2c-checkpoint.ts); llama.cpp's
 * "llama" architecture rotates interleaved pairs (2i, 2i+1), the order of Meta's and llama2.c's
 * checkpoints, so those rows go back: row h·hd + a·hd/2 + i → h·hd + 2i + a — the permutation
 * llama.cpp's Hugging Face converter applies to q_proj/k_proj. The vocabulary (pieces and
 * scores) comes from llama2.c's tokenizer.bin, checked against the hash the manifest records.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ModelPackageError } from "../../runtime/errors.js";
import { headDim, normEps } from "../../runtime/model/architecture.js";
import { BlockKind, GlobalKind, tensorId } from "../../runtime/model/layout.js";
import { parseLlama2cTokenizer, type SentencePieceVocab } from "../../runtime/model/sentencepiece-vocab.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { hasQkvBias, ropeBase } from "../../protocol/evaluator/layout.js";
import { bool, encodeTensor, str, u32, f32, writeGguf, type GgmlTypeName, type GgufTensor, type GgufValue } from "./gguf.js";

export type GgufWeights = GgmlTypeName;

/** llama.cpp's token types (llama_token_type). */
const TokenType = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;
/** general.file_type: LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_Q8_0. */
const FILE_TYPE: Record<GgufWeights, number> = { F32: 0, F16: 1, Q8_0: 7 };

/**
 * Rows of one head-major projection from rotate-half order back to interleaved RoPE pairs: the
 * inverse of runtime/model/llama2c-checkpoint.ts's permuteRopeRows.
 */
export function interleaveRopeRows(w: Uint16Array, heads: number, hd: number, rowLength: number): Uint16Array {
  const out = new Uint16Array(w.length);
  const half = hd / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (const a of [0, 1]) {
        const from = (h * hd + a * half + i) * rowLength;
        const to = (h * hd + 2 * i + a) * rowLength;
        out.set(w.subarray(from, from + rowLength), to);
      }
    }
  }
  return out;
}

export function tokenTypes(v: SentencePieceVocab): Int32Array {
  const types = new Int32Array(v.pieces.length).fill(TokenType.normal);
  types[v.unk] = TokenType.unknown;
  types[v.bos] = TokenType.control;
  types[v.eos] = TokenType.control;
  for (let b = 0; b < 256; b++) types[v.byteFallback.first + b] = TokenType.byte;
  return types;
}

export type PackageToGgufParameters = {
  /** The model package (models/stories15M). */
  modelDir: string;
  /** llama2.c's tokenizer.bin the package was converted from (models/.cache/<name>/tokenizer.bin). */
  tokenizerBin: string;
  out: string;
  weights: GgufWeights;
};

/** Write the GGUF; returns its size in bytes. */
export async function packageToGguf(p: PackageToGgufParameters): Promise<number> {
  const w = await loadModelWeights(p.modelDir);
  const m = w.manifest;
  const a = m.architecture;
  if (m.source.kind !== "llama2c") throw new ModelPackageError(`${m.name} was not converted from a llama2.c checkpoint (source ${m.source.kind}): no SentencePiece scores to give llama.cpp`);
  if (ropeBase(a.ropeTheta) === 0 || hasQkvBias(a.ropeTheta)) throw new ModelPackageError(`${m.name}: committed RoPE frequencies or q/k/v biases are not plain Llama; not converted`);
  const tokenizerBytes = await readFile(p.tokenizerBin);
  const sha = createHash("sha256").update(tokenizerBytes).digest("hex");
  if (sha !== m.source.tokenizerSha256.replace(/^0x/, "")) throw new ModelPackageError(`${p.tokenizerBin} is not the tokenizer ${m.name} was converted from`, { details: `sha256 ${sha}, manifest ${m.source.tokenizerSha256}` });
  const vocab = parseLlama2cTokenizer(tokenizerBytes, a.vocab, p.tokenizerBin);
  const hd = headDim(a);

  const metadata: [string, GgufValue][] = [
    ["general.architecture", str("llama")],
    ["general.name", str(m.name)],
    ["general.file_type", u32(FILE_TYPE[p.weights])],
    ["llama.vocab_size", u32(a.vocab)],
    ["llama.context_length", u32(a.context)],
    ["llama.embedding_length", u32(a.hidden)],
    ["llama.block_count", u32(a.layers)],
    ["llama.feed_forward_length", u32(a.ffn)],
    ["llama.rope.dimension_count", u32(hd)],
    ["llama.rope.freq_base", f32(ropeBase(a.ropeTheta))],
    ["llama.attention.head_count", u32(a.heads)],
    ["llama.attention.head_count_kv", u32(a.kvHeads)],
    ["llama.attention.layer_norm_rms_epsilon", f32(normEps(a))],
    ["tokenizer.ggml.model", str("llama")],
    ["tokenizer.ggml.tokens", { type: "string[]", value: vocab.pieces }],
    ["tokenizer.ggml.scores", { type: "f32[]", value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: tokenTypes(vocab) }],
    ["tokenizer.ggml.unknown_token_id", u32(vocab.unk)],
    ["tokenizer.ggml.bos_token_id", u32(vocab.bos)],
    ["tokenizer.ggml.eos_token_id", u32(vocab.eos)],
    ["tokenizer.ggml.add_bos_token", bool(true)],
    ["tokenizer.ggml.add_eos_token", bool(false)],
  ];

  const tensors: GgufTensor[] = [];
  const add = (name: string, id: number, matrix: boolean, permuteHeads = 0) => {
    const t = w.tensor(id);
    if (t.dtype !== 1) throw new ModelPackageError(`${m.name}: tensor ${id} is not binary16`);
    let bits = t.data as Uint16Array;
    if (permuteHeads) bits = interleaveRopeRows(bits, permuteHeads, hd, t.rowLength);
    const type: GgmlTypeName = matrix ? p.weights : "F32";
    tensors.push({ name, shape: t.rows === 1 ? [t.rowLength] : [t.rowLength, t.rows], type, data: encodeTensor(bits, t.rowLength, type) });
  };
  add("token_embd.weight", tensorId(0, GlobalKind.embedding), true);
  for (let l = 1; l <= a.layers; l++) {
    const b = `blk.${l - 1}`;
    add(`${b}.attn_norm.weight`, tensorId(l, BlockKind.attnNorm), false);
    add(`${b}.attn_q.weight`, tensorId(l, BlockKind.wq), true, a.heads);
    add(`${b}.attn_k.weight`, tensorId(l, BlockKind.wk), true, a.kvHeads);
    add(`${b}.attn_v.weight`, tensorId(l, BlockKind.wv), true);
    add(`${b}.attn_output.weight`, tensorId(l, BlockKind.wo), true);
    add(`${b}.ffn_norm.weight`, tensorId(l, BlockKind.mlpNorm), false);
    add(`${b}.ffn_gate.weight`, tensorId(l, BlockKind.wgate), true);
    add(`${b}.ffn_up.weight`, tensorId(l, BlockKind.wup), true);
    add(`${b}.ffn_down.weight`, tensorId(l, BlockKind.wdown), true);
  }
  add("output_norm.weight", tensorId(0, GlobalKind.finalNorm), false);
  add("output.weight", tensorId(0, GlobalKind.lmHead), true);
  return writeGguf(p.out, metadata, tensors);
}
