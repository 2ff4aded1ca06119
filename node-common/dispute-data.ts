import type { Hex } from "viem";
import { StepproofError } from "../protocol/errors.js";
import { traceTree, type ChunkTree, type Trace, type Weights } from "../protocol/dispute/model.js";
import type { DisputeData } from "../protocol/dispute/proofs.js";
import type { EncodedTensor } from "../protocol/dispute/tensors.js";
import { loadModelWeights, weightsLeafIndex, weightsTree } from "../runtime/model/weights.js";
import { weightTensors } from "../runtime/model/layout.js";
import { readManifest, type ModelManifest } from "../runtime/model/manifest.js";
import type { HiddenData } from "../runtime/forward.js";

export class DisputeDataMismatchError extends StepproofError {
  override name = "DisputeDataMismatchError";
}

/** A committed trace as a node holds it: every token and every boundary row h[t][l]. */
export type FullTrace = { tokens: readonly number[]; row(t: number, layer: number): HiddenData };

type ModelPart = Pick<DisputeData, "arch" | "encoding" | "weights" | "weightsTree"> & { manifest: ModelManifest };
const models = new Map<string, Promise<ModelPart>>();

/** Model half of the dispute data, once per model directory (the weights tree is the cost). */
export function modelDisputeData(modelDir: string): Promise<ModelPart> {
  let p = models.get(modelDir);
  if (!p) {
    p = (async () => {
      const manifest = await readManifest(modelDir);
      const loaded = await loadModelWeights(modelDir);
      const dtype = manifest.encoding.weightsDtype as 1 | 2;
      const weights: Weights = new Map();
      for (const spec of weightTensors(manifest.architecture)) {
        const t = loaded.tensor(spec.tensorId);
        // Committed RoPE frequencies are binary32 whatever the weights dtype (PROTOCOL §3.5).
        weights.set(spec.tensorId, { rows: t.rows, rowLength: t.rowLength, dtype: t.dtype === 2 ? 2 : dtype, data: t.data } satisfies EncodedTensor);
      }
      const encoding = { traceDtype: manifest.encoding.traceDtype as 1 | 2, weightsDtype: dtype, chunkSize: manifest.encoding.chunkSize };
      // The runtime's wasm-keccak tree: a real model's 10^5+ weight leaves in about a second.
      const packed = weightsTree(loaded);
      const tree: ChunkTree = { root: packed.root, proof: (tensor, row, chunk) => packed.proof(weightsLeafIndex(loaded, tensor, row, chunk)) };
      if (tree.root.toLowerCase() !== manifest.weightsRoot.toLowerCase()) {
        throw new DisputeDataMismatchError(`weights of ${modelDir} hash to ${tree.root}, manifest says ${manifest.weightsRoot}`);
      }
      return { manifest, arch: manifest.architecture, encoding, weights, weightsTree: tree };
    })();
    models.set(modelDir, p);
    p.catch(() => models.delete(modelDir));
  }
  return p;
}

/**
 * Everything the dispute agent needs for one job: the model package and the job's full trace
 * as committed. The rebuilt trace tree must reproduce the on-chain root, or the data on disk
 * is not what was committed and no move may be made from it.
 */
export async function disputeDataFor(modelDir: string, trace: FullTrace, traceRoot: Hex): Promise<DisputeData> {
  const model = await modelDisputeData(modelDir);
  const { layers, hidden } = model.arch;
  const n = trace.tokens.length - 1;
  const dtype = model.encoding.traceDtype;
  const rows: EncodedTensor[] = [];
  for (let l = 0; l <= layers; l++) {
    const data = dtype === 1 ? new Uint16Array(n * hidden) : new Float32Array(n * hidden);
    for (let t = 0; t < n; t++) data.set(trace.row(t, l) as never, t * hidden);
    rows.push({ rows: n, rowLength: hidden, dtype, data });
  }
  const full: Trace = { tokens: [...trace.tokens], hidden: rows };
  const tree = traceTree(full, model.encoding.chunkSize);
  if (tree.root.toLowerCase() !== traceRoot.toLowerCase()) {
    throw new DisputeDataMismatchError(`trace rebuilt from disk has root ${tree.root}, the chain committed ${traceRoot}`);
  }
  return { arch: model.arch, encoding: model.encoding, weights: model.weights, weightsTree: model.weightsTree, trace: full, traceTree: tree };
}
