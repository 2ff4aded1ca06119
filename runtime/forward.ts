import * as ort from "onnxruntime-node";
import { headDim } from "./model/architecture.js";
import type { ModelSessions } from "./session.js";

/**
 * One forward step over the split graphs (PROTOCOL §4.2). Hidden states are row-major
 * [rows, hidden] in the trace dtype: Uint16Array of binary16 bits or Float32Array.
 */
export type HiddenData = Uint16Array | Float32Array;
export type KvCache = { key: ort.Tensor; value: ort.Tensor };

function hiddenTensor(data: HiddenData, rows: number, hidden: number, batch = 1): ort.Tensor {
  const dims = [batch, rows, hidden];
  return data instanceof Uint16Array ? new ort.Tensor("float16", data, dims) : new ort.Tensor("float32", data, dims);
}

function hiddenData(t: ort.Tensor | undefined, what: string): HiddenData {
  const d = t?.data;
  if (d instanceof Uint16Array || d instanceof Float32Array) return d;
  throw new TypeError(`${what}: unexpected tensor data ${d?.constructor.name}`);
}

export function positionsTensor(positions: readonly number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(positions.map(BigInt)), [positions.length]);
}

export function emptyKvCache(s: ModelSessions, batch = 1): KvCache {
  const a = s.manifest.architecture;
  const dims = [batch, a.kvHeads, 0, headDim(a)];
  const make = () => (s.config.compute === "f16" ? new ort.Tensor("float16", new Uint16Array(0), dims) : new ort.Tensor("float32", new Float32Array(0), dims));
  return { key: make(), value: make() };
}

/** h[·][0] for `tokens` (batch-major [batch, tokens.length / batch] when batch > 1). */
export async function embed(s: ModelSessions, tokens: readonly number[], batch = 1): Promise<HiddenData> {
  const out = await s.embed.run({ tokens: new ort.Tensor("int64", BigInt64Array.from(tokens.map(BigInt)), [batch, tokens.length / batch]) });
  return hiddenData(out.hidden, "embed");
}

/**
 * Block `layer` on rows at absolute `positions`, attending to `past` (cache of earlier
 * positions). With batch > 1, `hidden` is [batch, positions.length, d] and every sequence of
 * the batch is at the same positions (lockstep batching).
 */
export async function runBlock(
  s: ModelSessions,
  layer: number,
  hidden: HiddenData,
  positions: readonly number[],
  past: KvCache,
  batch = 1,
): Promise<{ hidden: HiddenData; present: KvCache }> {
  const out = await s.block(layer).run({
    hidden: hiddenTensor(hidden, positions.length, s.manifest.architecture.hidden, batch),
    positions: positionsTensor(positions),
    past_key: past.key,
    past_value: past.value,
  });
  return { hidden: hiddenData(out.hidden_out, `block ${layer}`), present: { key: out.present_key!, value: out.present_value! } };
}

/** fp32 logits for one or more hidden rows at the last boundary h[·][L]: [rows, vocab]. */
export async function headLogits(s: ModelSessions, hidden: HiddenData, rows: number): Promise<Float32Array> {
  const out = await s.head.run({ hidden: hiddenTensor(hidden, rows, s.manifest.architecture.hidden) });
  const d = out.logits?.data;
  if (!(d instanceof Float32Array)) throw new TypeError("head: logits are not float32");
  return d;
}
