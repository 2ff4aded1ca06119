import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { f32BitsToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { generate } from "../../runtime/generate.js";
import { importHfCheckpoint, UnsupportedCheckpointError } from "../../runtime/model/hf-import.js";
import { BlockKind, GlobalKind, tensorId } from "../../runtime/model/layout.js";
import { Xoshiro128 } from "../../runtime/model/prng.js";
import { encodeSafetensors } from "../../runtime/model/safetensors.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { tempDir } from "./helpers.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { TokenizerFileError } from "../../protocol/prompt/errors.js";
import { readTokenizerFiles } from "../../runtime/model/tokenizer-files.js";
import { tinyTokenizerJson } from "../helpers/llama2c-files.js";
import { referenceBlock } from "./reference.js";

const config = {
  model_type: "llama",
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 48,
  vocab_size: 300,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  hidden_act: "silu",
  bos_token_id: 1,
  eos_token_id: [2, 3],
};

type Dtype = "F16" | "BF16" | "F32";
/** Random tensor in `dtype` plus the float32 values it holds. */
function tensor(shape: number[], dtype: Dtype, stream: number, scale: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new Xoshiro128(7, stream);
  const f = Float32Array.from({ length: n }, () => (shape.length === 1 ? 1 + 0.1 * rng.nextSigned() : scale * rng.nextSigned()));
  const u = new Uint32Array(f.buffer);
  let data: Uint8Array;
  if (dtype === "F32") data = new Uint8Array(f.buffer.slice(0));
  else {
    const h = Uint16Array.from(u, (bits) => (dtype === "BF16" ? bits >>> 16 : f32BitsToHalfBits(bits)));
    data = new Uint8Array(h.buffer);
  }
  return { dtype, shape, data, values: f };
}

/** Writes a two-shard HF checkpoint with BF16, F32 and F16 tensors; returns expected fp16 bits. */
function writeCheckpoint(dir: string, extra: Record<string, unknown> = {}, bias = false) {
  mkdirSync(dir, { recursive: true });
  const d = 32;
  const hd = 8;
  const shard1: Record<string, ReturnType<typeof tensor>> = { "model.embed_tokens.weight": tensor([300, d], "BF16", 1, 1) };
  const shard2: Record<string, ReturnType<typeof tensor>> = { "model.norm.weight": tensor([d], "F16", 2, 1) };
  for (let l = 0; l < 2; l++) {
    const dtype: Dtype = l === 0 ? "BF16" : "F32";
    const shard = l === 0 ? shard1 : shard2;
    const p = `model.layers.${l}.`;
    let s = 10 + 20 * l;
    shard[`${p}input_layernorm.weight`] = tensor([d], dtype, s++, 1);
    shard[`${p}self_attn.q_proj.weight`] = tensor([4 * hd, d], dtype, s++, 0.3);
    shard[`${p}self_attn.k_proj.weight`] = tensor([2 * hd, d], dtype, s++, 0.3);
    shard[`${p}self_attn.v_proj.weight`] = tensor([2 * hd, d], dtype, s++, 0.3);
    shard[`${p}self_attn.o_proj.weight`] = tensor([d, 4 * hd], dtype, s++, 0.1);
    shard[`${p}post_attention_layernorm.weight`] = tensor([d], dtype, s++, 1);
    shard[`${p}mlp.gate_proj.weight`] = tensor([48, d], dtype, s++, 0.3);
    shard[`${p}mlp.up_proj.weight`] = tensor([48, d], dtype, s++, 0.3);
    shard[`${p}mlp.down_proj.weight`] = tensor([d, 48], dtype, s++, 0.1);
  }
  if (bias) shard2["model.layers.0.self_attn.q_proj.bias"] = tensor([32], "F32", 99, 1);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, ...extra }));
  writeFileSync(join(dir, "model-00001-of-00002.safetensors"), encodeSafetensors(shard1));
  writeFileSync(join(dir, "model-00002-of-00002.safetensors"), encodeSafetensors(shard2));
  writeFileSync(join(dir, "tokenizer.json"), tinyTokenizerJson(300));
  return { ...shard1, ...shard2 };
}

describe("Hugging Face importer (PROTOCOL §4.7)", () => {
  it("converts a two-shard BF16/F32/F16 checkpoint into a package that generates and verifies", async () => {
    const src = join(tempDir(), "tiny-hf");
    const tensors = writeCheckpoint(src);
    const dir = join(tempDir(), "pkg");
    const seen: string[] = [];
    const manifest = await importHfCheckpoint({ source: src, dir, chunkSize: 16, onTensor: (s) => seen.push(s.name) });
    expect(manifest.architecture).toMatchObject({ layers: 2, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, vocab: 300, context: 128, ropeTheta: 10000 });
    expect(manifest.tokenizer).toMatchObject({ type: "hf", bos: 1, eos: 2 });
    expect(seen).toHaveLength(3 + 9 * 2);

    const w = await loadModelWeights(dir, { verifyRoot: true });
    // F32 source (layer 2 = HF layer 1) is rounded to binary16; BF16 and F16 convert exactly.
    const wq = w.tensor(tensorId(2, BlockKind.wq));
    const src32 = tensors["model.layers.1.self_attn.q_proj.weight"]!.values;
    expect(Array.from(wq.data.subarray(0, 50))).toEqual(Array.from(src32.subarray(0, 50), (v) => f32BitsToHalfBits(new Uint32Array(new Float32Array([v]).buffer)[0]!)));
    const emb = w.tensor(tensorId(0, GlobalKind.embedding));
    const bf = new Uint16Array(tensors["model.embed_tokens.weight"]!.data.buffer.slice(0));
    expect(halfBitsToFloat(emb.data[5]!)).toBeCloseTo(new Float32Array(new Uint32Array([bf[5]! << 16]).buffer)[0]!, 2);
    expect(w.tensor(tensorId(0, GlobalKind.lmHead)).data).toEqual(emb.data); // tied

    const r = await generate({ modelDir: dir, promptTokens: [1, 50, 60, 70], maxNewTokens: 4, samplingParams: 0n, trace: true, stopAtEos: false });
    const trace = r.trace!;
    const x = Array.from({ length: r.tokens.length - 1 }, (_, t) => Array.from(trace.hiddenRow(t, 0) as Uint16Array, halfBitsToFloat));
    const ref = referenceBlock(w, 1, x);
    const got = Array.from(trace.hiddenRow(3, 1) as Uint16Array, halfBitsToFloat);
    got.forEach((v, i) => expect(Math.abs(v - ref[3]![i]!)).toBeLessThan(4e-3 * Math.max(1, Math.abs(ref[3]![i]!))));
  });

  it("pins tokenizer.json and the chat template in the manifest, from either place Hugging Face keeps it", async () => {
    // A Llama-2-chat style template (system folded into the first user turn).
    const template = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% elif m.role == 'assistant' %} {{ m.content }} {{ eos_token }}{% endif %}{% endfor %}";
    const fromConfig = join(tempDir(), "chat-config");
    writeCheckpoint(fromConfig);
    writeFileSync(join(fromConfig, "tokenizer_config.json"), JSON.stringify({ chat_template: [{ name: "tool_use", template: "nope" }, { name: "default", template }] }));
    const fromFile = join(tempDir(), "chat-file");
    writeCheckpoint(fromFile);
    writeFileSync(join(fromFile, "chat_template.jinja"), template);
    for (const src of [fromConfig, fromFile]) {
      const dir = join(tempDir(), "pkg");
      const m = await importHfCheckpoint({ source: src, dir });
      expect(m.tokenizer).toMatchObject({ type: "hf", file: "tokenizer.json", chatTemplate: { file: "chat_template.jinja", sha256: createHash("sha256").update(template).digest("hex") } });
      expect(readFileSync(join(dir, "chat_template.jinja"), "utf8")).toBe(template);
      const tokenizer = loadTokenizer(m.tokenizer, await readTokenizerFiles(dir, m.tokenizer));
      const ids = tokenizer.encodeChat([{ role: "user", content: "the hat" }]);
      // BOS from the template only (no second one from the tokenizer), then the rendered text.
      expect(ids.filter((id) => id === 1)).toHaveLength(1);
      expect(tokenizer.decode(ids)).toBe("[INST] the hat [/INST]");
    }
    // Without a template a chat is refused with its own error (the prover answers 400).
    const plain = join(tempDir(), "plain");
    writeCheckpoint(plain);
    const m = await importHfCheckpoint({ source: plain, dir: join(tempDir(), "pkg") });
    expect(m.tokenizer).not.toHaveProperty("chatTemplate");
  });

  it("refuses checkpoints the committed architecture cannot represent", async () => {
    const scaled = join(tempDir(), "scaled");
    writeCheckpoint(scaled, { rope_scaling: { rope_type: "llama3", factor: 8 } });
    await expect(importHfCheckpoint({ source: scaled, dir: join(tempDir(), "o1") })).rejects.toBeInstanceOf(UnsupportedCheckpointError);
    const biased = join(tempDir(), "biased");
    writeCheckpoint(biased, {}, true);
    await expect(importHfCheckpoint({ source: biased, dir: join(tempDir(), "o2") })).rejects.toThrow(/bias/);
    const badTokenizer = join(tempDir(), "bad-tokenizer");
    writeCheckpoint(badTokenizer);
    writeFileSync(join(badTokenizer, "tokenizer.json"), JSON.stringify({ version: "1.0", model: { type: "BPE", vocab: {} } }));
    await expect(importHfCheckpoint({ source: badTokenizer, dir: join(tempDir(), "o4") })).rejects.toThrow(TokenizerFileError);
    const qwen = join(tempDir(), "qwen");
    writeCheckpoint(qwen, { model_type: "gpt2" });
    await expect(importHfCheckpoint({ source: qwen, dir: join(tempDir(), "o3") })).rejects.toBeInstanceOf(UnsupportedCheckpointError);
  });
});
