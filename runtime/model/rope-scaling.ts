import { UnsupportedCheckpointError } from "../errors.js";

/**
 * RoPE inverse frequencies of a Hugging Face config's `rope_scaling` (transformers'
 * ROPE_INIT_FUNCTIONS), for the variants that only change the frequencies — which a package
 * commits in its weights and the judge uses as they are (PROTOCOL §2.1, θ = 0):
 * - "llama3" (Llama-3.1/3.2): wavelengths 2π/f shorter than original_max_position /
 *   high_freq_factor keep f, longer than original_max_position / low_freq_factor become
 *   f / factor, and those between are blended with
 *   s = (original_max_position / wavelength − low) / (high − low): (1 − s)·f/factor + s·f;
 * - "linear": f / factor.
 * Variants that also scale attention (yarn, longrope) or depend on the sequence length
 * (dynamic) are refused. Computed in float64 and rounded to binary32 once, so within one
 * binary32 ulp of transformers' float32 computation; the committed values define the model.
 */
export type RopeScaling = {
  rope_type?: string;
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
};

const positive = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v > 0;

export function scaledRopeInvFreq(theta: number, headDim: number, scaling: RopeScaling): Float32Array {
  const type = scaling.rope_type ?? scaling.type ?? "default";
  const plain = Array.from({ length: headDim / 2 }, (_, k) => 1 / theta ** ((2 * k) / headDim));
  if (type === "default") return Float32Array.from(plain);
  if (!positive(scaling.factor)) throw new UnsupportedCheckpointError(`rope_scaling ${type} needs a positive factor`);
  const factor = scaling.factor;
  if (type === "linear") return Float32Array.from(plain, (f) => f / factor);
  if (type === "llama3") {
    const { low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original } = scaling;
    if (!positive(low) || !positive(high) || !positive(original) || high <= low) {
      throw new UnsupportedCheckpointError("rope_scaling llama3 needs low_freq_factor < high_freq_factor and original_max_position_embeddings", { details: JSON.stringify(scaling) });
    }
    const lowWavelen = original / low;
    const highWavelen = original / high;
    return Float32Array.from(plain, (f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / factor;
      const s = (original / wavelen - low) / (high - low);
      return (1 - s) * (f / factor) + s * f;
    });
  }
  throw new UnsupportedCheckpointError(`rope_scaling type "${type}" is not supported`, { details: "supported: llama3, linear (frequency-only variants, committed in the weights); yarn and longrope also scale attention, dynamic depends on the sequence length" });
}
