import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { f32BitsToHalfBits } from "../../protocol/encoding/index.js";
import { generate } from "../../runtime/generate.js";
import { importLlama2cCheckpoint } from "../../runtime/model/llama2c-import.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { loadLlamaCpp, matchingPrefix, runLlamaCpp } from "../../bench/llamacpp/anchor.js";
import { interleaveRopeRows, packageToGguf } from "../../bench/llamacpp/convert.js";
import { encodeTensor, floatToHalf, GGUF_ALIGNMENT, GgmlType, halfToFloat } from "../../bench/llamacpp/gguf.js";
import { permuteRopeRows } from "../../runtime/model/llama2c-checkpoint.js";
import { llama2cCheckpoint, llama2cTokenizerBin, TINY_LLAMA2C } from "../helpers/llama2c-files.js";
import { tempDir } from "../runtime/helpers.js";

/** An independent GGUF v3 reader, enough to check what the writer wrote. */
function readGguf(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => ((at += 4), v.getUint32(at - 4, true));
  const u64 = () => ((at += 8), Number(v.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    at += n;
    return new TextDecoder().decode(bytes.subarray(at - n, at));
  };
  const scalar = (t: number): unknown => {
    switch (t) {
      case 4:
        return u32();
      case 5:
        return (at += 4), v.getInt32(at - 4, true);
      case 6:
        return (at += 4), v.getFloat32(at - 4, true);
      case 7:
        return (at += 1), v.getUint8(at - 1) === 1;
      case 8:
        return str();
      default:
        throw new Error(`value type ${t} not expected`);
    }
  };
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  at = 4;
  const version = u32();
  const nTensors = u64();
  const nKv = u64();
  const kv = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const t = u32();
    if (t === 9) {
      const et = u32();
      const n = u64();
      kv.set(key, Array.from({ length: n }, () => scalar(et)));
    } else kv.set(key, scalar(t));
  }
  const tensors: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const dims = u32();
    const shape = Array.from({ length: dims }, u64);
    tensors.push({ name, shape, type: u32(), offset: u64() });
  }
  const dataStart = Math.ceil(at / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  return { magic, version, kv, tensors, dataStart };
}

async function tinyPackage() {
  const dir = tempDir();
  const ckpt = llama2cCheckpoint(TINY_LLAMA2C);
  writeFileSync(join(dir, "model.bin"), ckpt.bytes);
  writeFileSync(join(dir, "tokenizer.bin"), llama2cTokenizerBin(TINY_LLAMA2C.vocab));
  const pkg = join(dir, "pkg");
  await importLlama2cCheckpoint({ checkpoint: join(dir, "model.bin"), tokenizer: join(dir, "tokenizer.bin"), dir: pkg, name: "tiny-l2c", chunkSize: 16 });
  return { dir, pkg, tokenizerBin: join(dir, "tokenizer.bin"), tensors: ckpt.tensors };
}

const halfOf = (x: number) => f32BitsToHalfBits(new Uint32Array(new Float32Array([x]).buffer)[0]!);

describe("GGUF writer for bench:serve's llama.cpp anchor", () => {
  it("binary16 conversions agree with the protocol's encoder and round-trip", () => {
    for (const x of [0, -0, 1, -2.5, 65504, 1e-7, 6.1e-5, 3.14159, -1234.5678, 1e6]) expect(floatToHalf(x)).toBe(halfOf(x));
    for (let h = 0; h < 0x7c00; h += 37) expect(floatToHalf(halfToFloat(h))).toBe(h);
  });

  it("Q8_0 blocks: an f16 scale max|x|/127 and int8 values that dequantize within half a step (plus the scale's rounding)", () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * (i < 32 ? 0.05 : 3));
    const q = encodeTensor(x, 64, "Q8_0");
    expect(q.byteLength).toBe(2 * 34);
    const v = new DataView(q.buffer);
    for (let b = 0; b < 2; b++) {
      const d = halfToFloat(v.getUint16(34 * b, true));
      const amax = Math.max(...Array.from(x.subarray(32 * b, 32 * b + 32), Math.abs));
      expect(d).toBeCloseTo(amax / 127, 4);
      // q = round(x · 127 / max|x|) (ggml divides by the unrounded scale), so the stored f16 scale's rounding adds ≤ 127 · its error.
      const bound = d / 2 + 127 * Math.abs(d - amax / 127) + 1e-7;
      for (let j = 0; j < 32; j++) expect(Math.abs(v.getInt8(34 * b + 2 + j) * d - x[32 * b + j]!)).toBeLessThanOrEqual(bound);
    }
    expect(() => encodeTensor(new Float32Array(48), 48, "Q8_0")).toThrow(/multiple of 32/);
  });

  it("interleaveRopeRows undoes the importer's rotate-half permutation", () => {
    const w = Uint16Array.from({ length: 4 * 8 * 3 }, (_, i) => i);
    expect(Array.from(interleaveRopeRows(permuteRopeRows(w, 4, 8, 3), 4, 8, 3))).toEqual(Array.from(w));
  });

  it("converts a llama2.c package: llama metadata, SentencePiece vocabulary, llama.cpp tensor names, Q/K back in llama2.c's row order", async () => {
    const t = await tinyPackage();
    const c = TINY_LLAMA2C;
    const out = join(t.dir, "tiny.f32.gguf");
    const size = await packageToGguf({ modelDir: t.pkg, tokenizerBin: t.tokenizerBin, out, weights: "F32" });
    const bytes = new Uint8Array(readFileSync(out));
    expect(bytes.byteLength).toBe(size);
    const g = readGguf(bytes);
    expect(g.magic).toBe("GGUF");
    expect(g.version).toBe(3);
    expect(g.kv.get("general.architecture")).toBe("llama");
    expect(g.kv.get("llama.block_count")).toBe(c.layers);
    expect(g.kv.get("llama.embedding_length")).toBe(c.dim);
    expect(g.kv.get("llama.feed_forward_length")).toBe(c.hidden);
    expect(g.kv.get("llama.attention.head_count")).toBe(c.heads);
    expect(g.kv.get("llama.attention.head_count_kv")).toBe(c.kvHeads);
    expect(g.kv.get("llama.rope.dimension_count")).toBe(c.dim / c.heads);
    expect(g.kv.get("llama.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-5));
    expect(g.kv.get("tokenizer.ggml.model")).toBe("llama");
    const tokens = g.kv.get("tokenizer.ggml.tokens") as string[];
    const types = g.kv.get("tokenizer.ggml.token_type") as number[];
    expect(tokens).toHaveLength(c.vocab);
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(types.slice(0, 5)).toEqual([2, 3, 3, 6, 6]);
    expect(types[3 + 256]).toBe(1);
    expect(g.kv.get("tokenizer.ggml.scores")).toHaveLength(c.vocab);

    expect(g.tensors.map((x) => x.name).slice(0, 10)).toEqual(["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"]);
    expect(g.tensors.at(-1)!.name).toBe("output.weight");
    const byName = new Map(g.tensors.map((x) => [x.name, x]));
    expect(byName.get("token_embd.weight")!.shape).toEqual([c.dim, c.vocab]);
    expect(byName.get("blk.1.ffn_down.weight")!.shape).toEqual([c.hidden, c.dim]);
    expect(byName.get("output_norm.weight")!.shape).toEqual([c.dim]);
    for (const x of g.tensors) {
      expect(x.type).toBe(GgmlType.F32);
      expect(x.offset % GGUF_ALIGNMENT).toBe(0);
    }
    const f32 = (name: string) => {
      const x = byName.get(name)!;
      const n = x.shape.reduce((a, b) => a * b, 1);
      return new Float32Array(bytes.slice(g.dataStart + x.offset, g.dataStart + x.offset + 4 * n).buffer);
    };
    // Every matrix is llama2.c's own (rounded to binary16, as the package commits it): Wq and Wk
    // in interleaved-pair order again, the others untouched.
    const kvDim = c.kvHeads * (c.dim / c.heads);
    const rounded = (xs: Float32Array) => Array.from(xs, (x) => halfToFloat(halfOf(x)));
    expect(Array.from(f32("blk.1.attn_q.weight"))).toEqual(rounded(t.tensors.get("wq")!.subarray(c.dim * c.dim, 2 * c.dim * c.dim)));
    expect(Array.from(f32("blk.0.attn_k.weight"))).toEqual(rounded(t.tensors.get("wk")!.subarray(0, kvDim * c.dim)));
    expect(Array.from(f32("blk.0.ffn_down.weight"))).toEqual(rounded(t.tensors.get("w2")!.subarray(0, c.dim * c.hidden)));
    expect(Array.from(f32("output_norm.weight"))).toEqual(rounded(t.tensors.get("rms_final")!));
    expect(Array.from(f32("output.weight"))).toEqual(rounded(t.tensors.get("embedding")!));

    await expect(packageToGguf({ modelDir: t.pkg, tokenizerBin: join(t.dir, "model.bin"), out: join(t.dir, "x.gguf"), weights: "F32" })).rejects.toThrow(/not the tokenizer/);
  });

  it("llama.cpp greedy-decodes the converted model to the runtime's tokens (skipped where node-llama-cpp cannot load)", async (ctx) => {
    const h = await loadLlamaCpp();
    if ("unavailable" in h) return ctx.skip();
    const t = await tinyPackage();
    const prompt = [1, 300, 17, 45, 200];
    const ours = await generate({ modelDir: t.pkg, promptTokens: prompt, maxNewTokens: 40, samplingParams: 0n, trace: false, stopAtEos: false });
    await releaseAllSessions();
    for (const weights of ["F32", "F16"] as const) {
      const out = join(t.dir, `tiny.${weights}.gguf`);
      await packageToGguf({ modelDir: t.pkg, tokenizerBin: t.tokenizerBin, out, weights });
      const r = await runLlamaCpp(h, out, { prompts: [prompt], outputTokens: 40, threads: 1, rounds: 1 });
      // 40 of 40 here; a random tiny model has near-ties that another CPU kernel's summation order could flip.
      expect(matchingPrefix(r.outputs[0]!, ours.outputTokens), `${weights}: ${r.outputs[0]} vs ${ours.outputTokens}`).toBeGreaterThanOrEqual(30);
    }
    await h.llama.dispose();
  });
});
