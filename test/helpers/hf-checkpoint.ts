import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { f32BitsToHalfBits } from "../../protocol/encoding/index.js";
import { Xoshiro128 } from "../../runtime/model/prng.js";
import { encodeSafetensors } from "../../runtime/model/safetensors.js";
import { tinyTokenizerJson } from "./llama2c-files.js";

/**
 * A small Hugging Face checkpoint written by tests: two safetensors shards in BF16, F32 and F16,
 * config.json and a real tokenizer.json — Llama by default, other model types and q/k/v biases
 * (Qwen2) by option.
 */
export const config = {
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
function tensor(shape: number[], dtype: Dtype, stream: number, scale: number, gain = shape.length === 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new Xoshiro128(7, stream);
  const f = Float32Array.from({ length: n }, () => (gain ? 1 + 0.1 * rng.nextSigned() : scale * rng.nextSigned()));
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
export function writeCheckpoint(dir: string, extra: Record<string, unknown> = {}, bias = false, qkvBias = false) {
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
  // Qwen2: every layer's q, k and v projections carry a bias (BF16 like the released checkpoints).
  if (qkvBias) {
    for (let l = 0; l < 2; l++) {
      shard2[`model.layers.${l}.self_attn.q_proj.bias`] = tensor([4 * hd], "BF16", 70 + l, 0.5, false);
      shard2[`model.layers.${l}.self_attn.k_proj.bias`] = tensor([2 * hd], "BF16", 80 + l, 0.5, false);
      shard2[`model.layers.${l}.self_attn.v_proj.bias`] = tensor([2 * hd], "BF16", 90 + l, 0.5, false);
    }
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, ...extra }));
  writeFileSync(join(dir, "model-00001-of-00002.safetensors"), encodeSafetensors(shard1));
  writeFileSync(join(dir, "model-00002-of-00002.safetensors"), encodeSafetensors(shard2));
  writeFileSync(join(dir, "tokenizer.json"), tinyTokenizerJson(300));
  return { ...shard1, ...shard2 };
}

