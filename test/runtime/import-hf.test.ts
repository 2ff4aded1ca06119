import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { f32BitsToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { generate } from "../../runtime/generate.js";
import { importHfCheckpoint, UnsupportedCheckpointError } from "../../runtime/model/hf-import.js";
import { BlockKind, GlobalKind, tensorId } from "../../runtime/model/layout.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { tempDir } from "./helpers.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { TokenizerFileError } from "../../protocol/prompt/errors.js";
import { readTokenizerFiles } from "../../runtime/model/tokenizer-files.js";
import { writeCheckpoint } from "../helpers/hf-checkpoint.js";
import { referenceBlock } from "./reference.js";

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
