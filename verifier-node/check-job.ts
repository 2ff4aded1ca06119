import type { ModelSessions } from "../runtime/session.js";
import { reexecuteLayer, type ReplayableTrace, type ReexecuteLayerReturnType } from "../runtime/reexec.js";

export type CheckJobLayersReturnType = {
  results: ReexecuteLayerReturnType[];
  /** First (layer, position) beyond threshold, the dispute candidate. */
  failure?: { position: number; layer: number; maxAbs: number; relL2: number };
};

/**
 * Re-execute each sampled layer over all positions in one prefill pass and compare with the
 * committed rows (PROTOCOL §4). This only decides whether to look closer: disputes are decided
 * per element by the evaluator, never by this threshold.
 */
export async function checkJobLayers(p: { sessions: ModelSessions; trace: ReplayableTrace; layers: readonly number[] }): Promise<CheckJobLayersReturnType> {
  const results: ReexecuteLayerReturnType[] = [];
  for (const layer of p.layers) results.push(await reexecuteLayer({ sessions: p.sessions, trace: p.trace, layer }));
  const bad = results.find((r) => !r.pass);
  if (!bad || bad.firstFailure === null) return { results };
  const pos = bad.positions[bad.firstFailure]!;
  return { results, failure: { position: pos.t, layer: bad.layer, maxAbs: pos.maxAbs, relL2: pos.relL2 } };
}

/** The boundaries whose rows re-executing `layers` needs. */
export function boundariesFor(layers: readonly number[]): number[] {
  const set = new Set<number>();
  for (const l of layers) {
    set.add(l);
    if (l > 0) set.add(l - 1);
  }
  return [...set].sort((a, b) => a - b);
}
