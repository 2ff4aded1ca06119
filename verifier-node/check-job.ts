import type { ModelSessions } from "../runtime/session.js";
import { checkSampling, reexecuteLayer, type ReplayableTrace, type ReexecuteLayerReturnType, type SamplingCheck } from "../runtime/reexec.js";

/**
 * A dispute candidate: block `layer` at `position` beyond threshold, or (layer L + 1) the head
 * step, whose committed token[position + 1] the job's rule does not give (`token`; maxAbs is
 * then the score gap and relL2 0).
 */
export type JobCheckFailure = { position: number; layer: number; maxAbs: number; relL2: number; token?: { claimed: number; derived: number } };

export type CheckJobLayersReturnType = {
  results: ReexecuteLayerReturnType[];
  /** Present when the head check ran: every output token re-derived (PROTOCOL §4.4). */
  sampling?: SamplingCheck[];
  /** First (layer, position) beyond threshold, the dispute candidate. */
  failure?: JobCheckFailure;
};

/** The job terms the head check needs (escrow getJob) and how far a re-derived score may drift. */
export type HeadCheckTerms = { promptLength: number; samplingParams: bigint; logitTolerance: number };

/** Default `logitTolerance`: a score gap the cross-setup drift of a logit can explain. */
export const DEFAULT_LOGIT_TOLERANCE = 1e-2;

/**
 * Re-execute each sampled layer over all positions in one prefill pass and compare with the
 * committed rows (PROTOCOL §4). This only decides whether to look closer: disputes are decided
 * per element by the evaluator, never by this threshold.
 */
export async function checkJobLayers(p: { sessions: ModelSessions; trace: ReplayableTrace; layers: readonly number[]; head?: HeadCheckTerms }): Promise<CheckJobLayersReturnType> {
  const results: ReexecuteLayerReturnType[] = [];
  for (const layer of p.layers) results.push(await reexecuteLayer({ sessions: p.sessions, trace: p.trace, layer }));
  const bad = results.find((r) => !r.pass);
  if (bad && bad.firstFailure !== null) {
    const pos = bad.positions[bad.firstFailure]!;
    return { results, failure: { position: pos.t, layer: bad.layer, maxAbs: pos.maxAbs, relL2: pos.relL2 } };
  }
  // The head step is cheap (one norm and one LM-head pass per position over h[·][L], which the
  // caller fetches with boundariesFor(layers, L)): every checked job re-derives every output
  // token, greedy or sampled, so a chosen output is caught whenever the job is checked.
  const L = p.sessions.manifest.architecture.layers;
  if (!p.head) return { results };
  const sampling = await checkSampling({ sessions: p.sessions, trace: p.trace, ...p.head });
  const wrong = sampling.find((c) => !c.pass);
  if (!wrong) return { results, sampling };
  return { results, sampling, failure: { position: wrong.t, layer: L + 1, maxAbs: wrong.scoreGap, relL2: 0, token: { claimed: wrong.claimed, derived: wrong.derived } } };
}

/** The boundaries whose rows re-executing `layers` needs, plus `head` (L) for the head check. */
export function boundariesFor(layers: readonly number[], head?: number): number[] {
  const set = new Set<number>(head === undefined ? [] : [head]);
  for (const l of layers) {
    set.add(l);
    if (l > 0) set.add(l - 1);
  }
  return [...set].sort((a, b) => a - b);
}
