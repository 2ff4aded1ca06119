/**
 * Llama-family architecture parameters, the fields of IModelRegistry.Architecture
 * (PROTOCOL §2.1), all uint32; one definition shared with the dispute code and chain actions.
 */
import type { Architecture } from "../../protocol/dispute/model.js";
export type { Architecture };

export function headDim(a: Architecture): number {
  return a.hidden / a.heads;
}

export function normEps(a: Architecture): number {
  return new Float32Array(new Uint32Array([a.normEpsBits]).buffer)[0]!;
}

export function f32Bits(value: number): number {
  return new Uint32Array(new Float32Array([value]).buffer)[0]!;
}

/** Throws RangeError naming the first inconsistent field. */
export function validateArchitecture(a: Architecture): void {
  for (const [k, v] of Object.entries(a)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`architecture.${k} must be a uint32, got ${v}`);
  }
  if (a.layers < 1 || a.hidden < 1 || a.heads < 1 || a.kvHeads < 1 || a.ffn < 1 || a.vocab < 1) throw new RangeError("architecture dimensions must be positive");
  if (a.hidden % a.heads !== 0) throw new RangeError(`hidden ${a.hidden} is not a multiple of heads ${a.heads}`);
  if (a.heads % a.kvHeads !== 0) throw new RangeError(`heads ${a.heads} is not a multiple of kvHeads ${a.kvHeads}`);
  if (headDim(a) % 2 !== 0) throw new RangeError(`head dimension ${headDim(a)} must be even for RoPE`);
}
