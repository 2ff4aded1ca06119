import { readdir, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { ModelPackageError, UnsupportedCheckpointError } from "../errors.js";
import { toBinary16 } from "./binary16.js";
import { f32Bits, type Architecture } from "./architecture.js";
import { BlockKind, GlobalKind, type TensorSpec } from "./layout.js";
import type { ModelManifest } from "./manifest.js";
import { readHfTokenizer, writeTokenizerFiles } from "./hf-tokenizer-import.js";
import { writeModelPackage } from "./package-writer.js";
import { readSafetensorsHeader, readTensorBytes, type SafetensorsEntry } from "./safetensors.js";
import { scaledRopeInvFreq, type RopeScaling } from "./rope-scaling.js";
import { hasQkvBias, QKV_BIAS_FLAG } from "../../protocol/evaluator/layout.js";

/** Re-exported: where importers have always found it. */
export { UnsupportedCheckpointError };

type HfConfig = {
  model_type?: string;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  intermediate_size: number;
  vocab_size: number;
  max_position_embeddings?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: RopeScaling | null;
  use_sliding_window?: boolean;
  head_dim?: number;
  tie_word_embeddings?: boolean;
  hidden_act?: string;
  attention_bias?: boolean;
  mlp_bias?: boolean;
  bos_token_id?: number | number[] | null;
  eos_token_id?: number | number[] | null;
};

const SUPPORTED_TYPES = new Set(["llama", "mistral", "qwen2"]);
/** Model types whose q, k and v projections (only those) have biases: Qwen2 / Qwen2.5. */
const QKV_BIASED_TYPES = new Set(["qwen2"]);

/** The config's rope_scaling when it changes the frequencies (null, absent and "default" do not). */
function ropeScaling(c: HfConfig): RopeScaling | undefined {
  const s = c.rope_scaling;
  return s && (s.rope_type ?? s.type ?? "default") !== "default" ? s : undefined;
}

/**
 * The committed architecture (PROTOCOL §2.1) of a Llama, Mistral or Qwen2 config. Variants go
 * into ropeTheta: base 0 when rope_scaling changes the frequencies (they are then committed,
 * ropeInvFreqFromHfConfig), QKV_BIAS_FLAG for Qwen2's q/k/v biases.
 */
export function architectureFromHfConfig(c: HfConfig): Architecture {
  if (c.model_type && !SUPPORTED_TYPES.has(c.model_type)) throw new UnsupportedCheckpointError(`model_type "${c.model_type}" is not Llama-architecture`, { details: `supported: ${[...SUPPORTED_TYPES].join(", ")}` });
  if (c.hidden_act && c.hidden_act !== "silu") throw new UnsupportedCheckpointError(`hidden_act "${c.hidden_act}" is not SiLU`);
  // Llama's attention_bias also biases o_proj, which the committed architecture has no place for.
  if (c.attention_bias || c.mlp_bias) throw new UnsupportedCheckpointError("attention_bias / mlp_bias: biases outside q/k/v are not part of the committed architecture");
  if (c.use_sliding_window) throw new UnsupportedCheckpointError("sliding-window attention is not part of the committed architecture");
  if (c.head_dim !== undefined && c.head_dim * c.num_attention_heads !== c.hidden_size) throw new UnsupportedCheckpointError(`head_dim ${c.head_dim} ≠ hidden / heads`);
  const theta = c.rope_theta ?? 10000;
  const scaled = ropeScaling(c) !== undefined;
  if (scaled) ropeInvFreqFromHfConfig(c); // refuses unsupported scalings now, not at the first tensor
  else if (!Number.isInteger(theta) || theta < 1 || theta >= QKV_BIAS_FLAG) throw new UnsupportedCheckpointError(`rope_theta ${theta} is not an integer in [1, 2^31) (PROTOCOL §2.1)`);
  return {
    layers: c.num_hidden_layers,
    hidden: c.hidden_size,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    ffn: c.intermediate_size,
    vocab: c.vocab_size,
    context: c.max_position_embeddings ?? 2048,
    normEpsBits: f32Bits(c.rms_norm_eps ?? 1e-6),
    ropeTheta: (scaled ? 0 : theta) + (QKV_BIASED_TYPES.has(c.model_type ?? "") ? QKV_BIAS_FLAG : 0),
  };
}

/** Frequencies to commit for a scaled RoPE (PROTOCOL §2.1, θ = 0), or undefined for plain RoPE. */
export function ropeInvFreqFromHfConfig(c: HfConfig): Float32Array | undefined {
  const scaling = ropeScaling(c);
  return scaling ? scaledRopeInvFreq(c.rope_theta ?? 10000, c.hidden_size / c.num_attention_heads, scaling) : undefined;
}

/** Default chunk size: 256, or √context when that is larger (the registry needs C² ≥ context). */
export function defaultChunkSize(context: number): number {
  return Math.max(256, Math.ceil(Math.sqrt(context)));
}

/** Hugging Face tensor name of each committed tensor (PROTOCOL §3.5 ↔ transformers Llama). */
export function hfTensorName(spec: TensorSpec, tied: boolean): string {
  if (spec.layer === 0) {
    if (spec.kind === GlobalKind.embedding) return "model.embed_tokens.weight";
    if (spec.kind === GlobalKind.finalNorm) return "model.norm.weight";
    return tied ? "model.embed_tokens.weight" : "lm_head.weight";
  }
  const p = `model.layers.${spec.layer - 1}.`;
  const names: Record<number, string> = {
    [BlockKind.attnNorm]: "input_layernorm.weight",
    [BlockKind.wq]: "self_attn.q_proj.weight",
    [BlockKind.wk]: "self_attn.k_proj.weight",
    [BlockKind.wv]: "self_attn.v_proj.weight",
    [BlockKind.wo]: "self_attn.o_proj.weight",
    [BlockKind.mlpNorm]: "post_attention_layernorm.weight",
    [BlockKind.wgate]: "mlp.gate_proj.weight",
    [BlockKind.wup]: "mlp.up_proj.weight",
    [BlockKind.wdown]: "mlp.down_proj.weight",
    [BlockKind.bq]: "self_attn.q_proj.bias",
    [BlockKind.bk]: "self_attn.k_proj.bias",
    [BlockKind.bv]: "self_attn.v_proj.bias",
  };
  return p + names[spec.kind]!;
}

export type ImportHfParameters = {
  source: string;
  dir: string;
  name?: string;
  chunkSize?: number;
  traceDtype?: 1 | 2;
  onTensor?: (spec: TensorSpec, index: number, total: number) => void;
};

/** Convert a Hugging Face Llama checkpoint directory into a model package. */
export async function importHfCheckpoint(p: ImportHfParameters): Promise<ModelManifest> {
  let config: HfConfig;
  try {
    config = JSON.parse(await readFile(join(p.source, "config.json"), "utf8")) as HfConfig;
  } catch (cause) {
    throw new ModelPackageError(`no readable config.json in ${p.source}`, { cause });
  }
  const arch = architectureFromHfConfig(config);
  const files = (await readdir(p.source)).filter((f) => f.endsWith(".safetensors")).sort();
  if (files.length === 0) throw new ModelPackageError(`no *.safetensors in ${p.source}`, { details: "convert .bin/.pth checkpoints to safetensors first" });
  const entries = new Map<string, SafetensorsEntry>();
  for (const f of files) for (const [k, v] of await readSafetensorsHeader(join(p.source, f))) entries.set(k, v);
  const qkvBias = hasQkvBias(arch.ropeTheta);
  const stray = [...entries.keys()].find((k) => k.endsWith(".bias") && !(qkvBias && /self_attn\.[qkv]_proj\.bias$/.test(k)));
  if (stray) throw new UnsupportedCheckpointError(`checkpoint has a bias the committed architecture has no place for: ${stray}`, { details: "only Qwen2's q/k/v projection biases are committed (PROTOCOL §2.1)" });
  const invFreq = ropeInvFreqFromHfConfig(config);
  const tied = config.tie_word_embeddings === true || !entries.has("lm_head.weight");
  const first = (v: number | number[] | null | undefined) => (Array.isArray(v) ? (v[0] ?? null) : (v ?? null));
  const tokenizer = await readHfTokenizer(p.source, { bos: first(config.bos_token_id), eos: first(config.eos_token_id) });
  const handles = new Map<string, FileHandle>();
  try {
    const manifest = await writeModelPackage({
      dir: p.dir,
      name: p.name ?? basename(p.source),
      arch,
      encoding: { traceDtype: p.traceDtype ?? 1, weightsDtype: 1, chunkSize: p.chunkSize ?? defaultChunkSize(arch.context) },
      tokenizer: tokenizer.spec,
      source: { kind: "hf", path: p.source, modelType: config.model_type ?? "llama" },
      tensorData: async (spec) => {
        // Scaled RoPE: the frequencies are computed from the config and committed (binary32).
        if (spec.layer === 0 && spec.kind === GlobalKind.ropeInvFreq) return invFreq!;
        const name = hfTensorName(spec, tied);
        const e = entries.get(name);
        if (!e) throw new ModelPackageError(`checkpoint lacks ${name}`);
        const expected = spec.rows === 1 ? [spec.rowLength] : [spec.rows, spec.rowLength];
        if (e.shape.join("x") !== expected.join("x")) throw new ModelPackageError(`${name} has shape ${e.shape.join("x")}, expected ${expected.join("x")}`);
        return toBinary16(name, e.dtype, await readTensorBytes(e, handles));
      },
      beforeManifest: () => writeTokenizerFiles(p.dir, tokenizer.spec, tokenizer.files),
      ...(p.onTensor ? { onTensor: p.onTensor } : {}),
    });
    return manifest;
  } finally {
    await Promise.all([...handles.values()].map((h) => h.close()));
  }
}
