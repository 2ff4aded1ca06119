import { f32BitsToHalfBits } from "../../protocol/encoding/index.js";
import { f32Bits, type Architecture } from "./architecture.js";
import { BlockKind, GlobalKind, type TensorSpec } from "./layout.js";
import type { ModelManifest } from "./manifest.js";
import { writeModelPackage } from "./package-writer.js";
import { Xoshiro128 } from "./prng.js";

/** Byte-level vocabulary: bytes 0..255, then BOS, EOS, PAD. */
export const BYTE_TOKENIZER = { type: "bytes", bos: 256, eos: 257, pad: 258 } as const;

export type SyntheticPreset = { name: string; arch: Architecture; chunkSize: number };

const EPS_BITS = f32Bits(1e-5);

export const PRESETS = {
  tiny: {
    name: "stepproof-tiny",
    arch: { layers: 4, hidden: 64, heads: 4, kvHeads: 2, ffn: 176, vocab: 259, context: 512, normEpsBits: EPS_BITS, ropeTheta: 10000 },
    // C < hidden so hidden rows have several chunks and chunking paths are exercised.
    chunkSize: 32,
  },
  small: {
    name: "stepproof-small",
    arch: { layers: 8, hidden: 512, heads: 8, kvHeads: 4, ffn: 1408, vocab: 32000, context: 2048, normEpsBits: EPS_BITS, ropeTheta: 10000 },
    chunkSize: 256,
  },
} satisfies Record<string, SyntheticPreset>;
export type PresetName = keyof typeof PRESETS;

export const DEFAULT_SEED = 20260101;

/**
 * Uniform weights with variance-preserving scales (std 1/sqrt(fan_in)), residual projections
 * shrunk by 1/sqrt(2L) so the residual stream stays O(1) through the layers, unit-ish
 * norm gains, unit-variance embeddings. Each tensor has its own PRNG stream (its tensorId), so
 * a tensor does not depend on the order the others are drawn in.
 */
export function syntheticTensor(arch: Architecture, seed: number, spec: TensorSpec): Uint16Array {
  const rng = new Xoshiro128(seed, spec.tensorId);
  const n = spec.rows * spec.rowLength;
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  const sqrt3 = Math.sqrt(3);
  const isNorm = spec.rows === 1;
  let scale = sqrt3 / Math.sqrt(spec.rowLength);
  if (spec.layer === 0 && spec.kind === GlobalKind.embedding) scale = sqrt3;
  if (spec.layer === 0 && spec.kind === GlobalKind.lmHead) scale *= 2;
  if (spec.layer > 0 && (spec.kind === BlockKind.wo || spec.kind === BlockKind.wdown)) scale /= Math.sqrt(2 * arch.layers);
  for (let i = 0; i < n; i++) {
    f[0] = isNorm ? 1 + 0.1 * rng.nextSigned() : scale * rng.nextSigned();
    out[i] = f32BitsToHalfBits(bits[0]!);
  }
  return out;
}

export type GenerateModelParameters = { preset: PresetName; dir: string; seed?: number; traceDtype?: 1 | 2; onTensor?: (spec: TensorSpec, i: number, n: number) => void };

/** Generate a preset model package deterministically from `seed`. */
export async function generateSyntheticModel(p: GenerateModelParameters): Promise<ModelManifest> {
  const preset = PRESETS[p.preset];
  const seed = p.seed ?? DEFAULT_SEED;
  return writeModelPackage({
    dir: p.dir,
    name: preset.name,
    arch: preset.arch,
    encoding: { traceDtype: p.traceDtype ?? 1, weightsDtype: 1, chunkSize: preset.chunkSize },
    tokenizer: BYTE_TOKENIZER,
    source: { kind: "generated", seed, preset: p.preset },
    tensorData: (spec) => syntheticTensor(preset.arch, seed, spec),
    ...(p.onTensor ? { onTensor: p.onTensor } : {}),
  });
}
