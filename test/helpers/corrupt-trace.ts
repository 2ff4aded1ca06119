import { floatToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { TraceBuilder } from "../../runtime/trace/builder.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";

/**
 * What a cheating prover commits: the honest trace with one element of h[position][layer]
 * moved by `delta`, re-hashed into a new root (the cheat happens before commitment).
 */
export async function corruptTrace(honest: TraceCommitment, at: { position: number; layer: number; element: number; delta: number }): Promise<TraceCommitment> {
  const { layers, hidden, chunkSize, dtype } = honest.layout;
  const builder = new TraceBuilder(layers, hidden, chunkSize, dtype, undefined, "inline");
  const n = honest.tokens.length - 1;
  for (let l = 0; l <= layers; l++) {
    const data = dtype === 1 ? new Uint16Array(n * hidden) : new Float32Array(n * hidden);
    for (let t = 0; t < n; t++) data.set(honest.hiddenRow(t, l), t * hidden);
    if (l === at.layer) {
      const i = at.position * hidden + at.element;
      if (data instanceof Uint16Array) data[i] = floatToHalfBits(halfBitsToFloat(data[i]!) + at.delta);
      else data[i] = data[i]! + at.delta;
    }
    await builder.addRows(l, 0, data, n);
  }
  return builder.finish(honest.tokens);
}
