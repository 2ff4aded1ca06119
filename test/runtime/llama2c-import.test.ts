import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { f32BitsToHalfBits } from "../../protocol/encoding/index.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { generate } from "../../runtime/generate.js";
import { normEps } from "../../runtime/model/architecture.js";
import { BlockKind, GlobalKind, tensorId } from "../../runtime/model/layout.js";
import { importLlama2cCheckpoint } from "../../runtime/model/llama2c-import.js";
import { ModelPackageError } from "../../runtime/errors.js";
import { TokenizerFileError } from "../../protocol/prompt/errors.js";
import { readTokenizerFiles } from "../../runtime/model/tokenizer-files.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { llama2cCheckpoint, llama2cTokenizerBin, TINY_LLAMA2C, type TinyLlama2c } from "../helpers/llama2c-files.js";
import { tempDir } from "./helpers.js";

const half = (v: number) => f32BitsToHalfBits(new Uint32Array(new Float32Array([v]).buffer)[0]!);

function writeSources(c: TinyLlama2c, byteStyle: "char" | "hex" = "char") {
  const dir = tempDir();
  const ckpt = llama2cCheckpoint(c);
  writeFileSync(join(dir, "model.bin"), ckpt.bytes);
  writeFileSync(join(dir, "tokenizer.bin"), llama2cTokenizerBin(c.vocab, byteStyle));
  return { dir, checkpoint: join(dir, "model.bin"), tokenizer: join(dir, "tokenizer.bin"), tensors: ckpt.tensors };
}

describe("llama2.c importer (PROTOCOL §4.7)", () => {
  it("maps run.c's tensors to the committed layout, permuting Q/K rows to rotate-half RoPE", async () => {
    const c = TINY_LLAMA2C;
    const src = writeSources(c);
    const dir = join(tempDir(), "pkg");
    const m = await importLlama2cCheckpoint({ checkpoint: src.checkpoint, tokenizer: src.tokenizer, dir, name: "tiny-l2c", chunkSize: 16 });
    expect(m.architecture).toMatchObject({ layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 340, context: 64, ropeTheta: 10000 });
    expect(normEps(m.architecture)).toBe(Math.fround(1e-5));
    // llama2.c models end a story with BOS: that is the id generation stops at.
    expect(m.tokenizer).toMatchObject({ type: "hf", file: "tokenizer.json", bos: 1, eos: 1 });
    expect(m.source).toMatchObject({ kind: "llama2c" });

    const w = await loadModelWeights(dir, { verifyRoot: true });
    const hd = c.dim / c.heads;
    const kv = c.kvHeads * hd;
    const layerSlice = (name: string, layer: number, per: number) => src.tensors.get(name)!.subarray(layer * per, (layer + 1) * per);
    for (const layer of [1, 2]) {
      const wq = layerSlice("wq", layer - 1, c.dim * c.dim);
      const got = w.tensor(tensorId(layer, BlockKind.wq)).data;
      // Head h, rotate-half row i < hd/2 ← interleaved row 2i; row hd/2 + i ← row 2i + 1.
      for (const [h, i, a] of [[0, 0, 0], [0, 0, 1], [1, 3, 0], [3, 1, 1], [2, hd / 2 - 1, 1]] as const) {
        const to = (h * hd + a * (hd / 2) + i) * c.dim;
        const from = (h * hd + 2 * i + a) * c.dim;
        expect(Array.from(got.subarray(to, to + c.dim))).toEqual(Array.from(wq.subarray(from, from + c.dim), half));
      }
      const wk = layerSlice("wk", layer - 1, kv * c.dim);
      const gotK = w.tensor(tensorId(layer, BlockKind.wk)).data;
      expect(Array.from(gotK.subarray((hd / 2) * c.dim, (hd / 2 + 1) * c.dim))).toEqual(Array.from(wk.subarray(c.dim, 2 * c.dim), half));
      // Values, output, and the MLP are not permuted: w1 = gate, w3 = up, w2 = down.
      expect(Array.from(w.tensor(tensorId(layer, BlockKind.wv)).data)).toEqual(Array.from(layerSlice("wv", layer - 1, kv * c.dim), half));
      expect(Array.from(w.tensor(tensorId(layer, BlockKind.wgate)).data)).toEqual(Array.from(layerSlice("w1", layer - 1, c.hidden * c.dim), half));
      expect(Array.from(w.tensor(tensorId(layer, BlockKind.wup)).data)).toEqual(Array.from(layerSlice("w3", layer - 1, c.hidden * c.dim), half));
      expect(Array.from(w.tensor(tensorId(layer, BlockKind.wdown)).data)).toEqual(Array.from(layerSlice("w2", layer - 1, c.dim * c.hidden), half));
      expect(Array.from(w.tensor(tensorId(layer, BlockKind.mlpNorm)).data)).toEqual(Array.from(layerSlice("rms_ffn", layer - 1, c.dim), half));
    }
    expect(w.tensor(tensorId(0, GlobalKind.lmHead)).data).toEqual(w.tensor(tensorId(0, GlobalKind.embedding)).data); // shared classifier
    expect(Array.from(w.tensor(tensorId(0, GlobalKind.finalNorm)).data)).toEqual(Array.from(src.tensors.get("rms_final")!, half));

    // The converted tokenizer loads, and the package generates with it.
    const tokenizer = loadTokenizer(m.tokenizer, await readTokenizerFiles(dir, m.tokenizer));
    const ids = tokenizer.encode("the cat was in the hat");
    expect(ids[0]).toBe(1);
    expect(tokenizer.decode(ids)).toBe("the cat was in the hat");
    const r = await generate({ modelDir: dir, promptTokens: ids, maxNewTokens: 3, samplingParams: 0n, trace: true, stopAtEos: false });
    expect(r.outputTokens).toHaveLength(3);
    await releaseAllSessions();
  });

  it("is deterministic: the same sources give byte-identical manifests, whatever their path", async () => {
    const a = writeSources(TINY_LLAMA2C);
    const b = writeSources(TINY_LLAMA2C, "hex"); // the other byte-piece export style: same pieces
    const [da, db] = [join(tempDir(), "a"), join(tempDir(), "b")];
    await importLlama2cCheckpoint({ checkpoint: a.checkpoint, tokenizer: a.tokenizer, dir: da, name: "same" });
    await importLlama2cCheckpoint({ checkpoint: b.checkpoint, tokenizer: b.tokenizer, dir: db, name: "same" });
    expect(readFileSync(join(da, "tokenizer.json"))).toEqual(readFileSync(join(db, "tokenizer.json")));
    const strip = (f: string) => JSON.parse(readFileSync(join(f, "manifest.json"), "utf8")) as { source: { tokenizerSha256: string } };
    const [ma, mb] = [strip(da), strip(db)];
    // Only the recorded hash of tokenizer.bin differs (the two exports differ in bytes).
    expect({ ...ma, source: {} }).toEqual({ ...mb, source: {} });
  });

  it("reads an unshared classifier", async () => {
    const c = { ...TINY_LLAMA2C, shared: false };
    const src = writeSources(c);
    const dir = join(tempDir(), "unshared");
    await importLlama2cCheckpoint({ checkpoint: src.checkpoint, tokenizer: src.tokenizer, dir });
    const w = await loadModelWeights(dir);
    expect(Array.from(w.tensor(tensorId(0, GlobalKind.lmHead)).data.subarray(0, 64))).toEqual(Array.from(src.tensors.get("wcls")!.subarray(0, 64), half));
  });

  it("refuses a truncated checkpoint and a tokenizer of the wrong size with typed errors", async () => {
    const src = writeSources(TINY_LLAMA2C);
    const truncated = join(src.dir, "short.bin");
    writeFileSync(truncated, readFileSync(src.checkpoint).subarray(0, 5000));
    await expect(importLlama2cCheckpoint({ checkpoint: truncated, tokenizer: src.tokenizer, dir: join(tempDir(), "x") })).rejects.toThrow(ModelPackageError);
    await expect(importLlama2cCheckpoint({ checkpoint: truncated, tokenizer: src.tokenizer, dir: join(tempDir(), "x") })).rejects.toThrow(/has 5000 bytes/);
    const wrongVocab = join(src.dir, "tok339.bin");
    writeFileSync(wrongVocab, llama2cTokenizerBin(339));
    await expect(importLlama2cCheckpoint({ checkpoint: src.checkpoint, tokenizer: wrongVocab, dir: join(tempDir(), "y") })).rejects.toThrow(TokenizerFileError);
    await expect(importLlama2cCheckpoint({ checkpoint: join(src.dir, "missing.bin"), tokenizer: src.tokenizer, dir: join(tempDir(), "z") })).rejects.toThrow(/cannot open/);
  });
});
