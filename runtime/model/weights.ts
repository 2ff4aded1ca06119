import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { WEIGHTS_DOMAIN } from "../../protocol/commitments/index.js";
import { chunkCount, chunkRowBytes } from "../../protocol/encoding/index.js";
import { LeafHasher } from "../commit/fast-leaf.js";
import { PackedMerkleTree } from "../commit/packed-tree.js";
import { ModelPackageError } from "../errors.js";
import { readManifest, type ModelManifest } from "./manifest.js";

/**
 * One committed weight tensor (PROTOCOL §3.5): binary16 bits, row-major, rows = output rows
 * (W[r, :] for y = W·x), whatever layout the ONNX graph uses internally.
 */
export interface CommittedTensor {
  rows: number;
  rowLength: number;
  /** 1: binary16 bits (Uint16Array); 2: binary32 (Float32Array, the committed RoPE frequencies). */
  dtype: 1 | 2;
  data: Uint16Array | Float32Array;
}

export interface ModelWeights {
  manifest: ModelManifest;
  /** tensorId = (layer << 8) | kind, PROTOCOL §3.5 (see runtime/model/layout.ts). */
  tensor(tensorId: number): CommittedTensor;
}

export type LoadModelWeightsOptions = {
  /** Recompute the weights root and compare it with the manifest (slow for large models). */
  verifyRoot?: boolean;
};

export class WeightsRootMismatchError extends ModelPackageError {
  override name = "WeightsRootMismatchError";
}

/** Load the weights file of a package into memory; tensors are views (no copy). */
export async function loadModelWeights(dir: string, options: LoadModelWeightsOptions = {}): Promise<ModelWeights> {
  const manifest = await readManifest(dir);
  let file: Buffer;
  try {
    file = await readFile(join(dir, manifest.weights.file));
  } catch (cause) {
    throw new ModelPackageError(`cannot read weights of ${manifest.name}`, { cause });
  }
  // Copy into an aligned buffer so Uint16Array views are valid whatever Node's pool offset is.
  const bytes = new Uint8Array(file.byteLength);
  bytes.set(file);
  const byId = new Map<number, CommittedTensor>();
  for (const t of manifest.weights.tensors) {
    const dtype = t.dtype ?? 1;
    const size = dtype === 2 ? 4 : 2;
    if (t.offset % size !== 0 || t.offset + t.rows * t.rowLength * size > bytes.byteLength) throw new ModelPackageError(`tensor ${t.name} lies outside ${manifest.weights.file}`);
    const n = t.rows * t.rowLength;
    byId.set(t.tensorId, { rows: t.rows, rowLength: t.rowLength, dtype, data: dtype === 2 ? new Float32Array(bytes.buffer, t.offset, n) : new Uint16Array(bytes.buffer, t.offset, n) });
  }
  const weights: ModelWeights = {
    manifest,
    tensor(tensorId) {
      const t = byId.get(tensorId);
      if (!t) throw new RangeError(`model ${manifest.name} has no tensor ${tensorId} (layer ${tensorId >> 8}, kind ${tensorId & 0xff})`);
      return t;
    },
  };
  if (options.verifyRoot) {
    const root = weightsTree(weights).root;
    if (root !== manifest.weightsRoot) throw new WeightsRootMismatchError(`weights root of ${manifest.name} does not match its manifest`, { details: `computed ${root}, manifest ${manifest.weightsRoot}` });
  }
  return weights;
}

/** Leaf order of PROTOCOL §3.5: (tensorId, row, chunk) ascending. */
export function weightsLeafIndex(weights: ModelWeights, tensorId: number, row: number, chunk: number): number {
  const C = weights.manifest.encoding.chunkSize;
  let index = 0;
  for (const t of [...weights.manifest.weights.tensors].sort((a, b) => a.tensorId - b.tensorId)) {
    const k = chunkCount(t.rowLength, C);
    if (t.tensorId === tensorId) {
      if (row < 0 || row >= t.rows || chunk < 0 || chunk >= k) throw new RangeError(`row ${row} / chunk ${chunk} outside tensor ${tensorId}`);
      return index + row * k + chunk;
    }
    index += t.rows * k;
  }
  throw new RangeError(`no tensor ${tensorId}`);
}

/** The weights' leaves (PROTOCOL §3.5 order) packed as 32-byte words, hashed with the wasm keccak. */
export function weightsLeaves(weights: ModelWeights): Uint8Array {
  const C = weights.manifest.encoding.chunkSize;
  const hasher = new LeafHasher(WEIGHTS_DOMAIN);
  const tensors = [...weights.manifest.weights.tensors].sort((a, b) => a.tensorId - b.tensorId);
  const out = new Uint8Array(32 * tensors.reduce((n, t) => n + t.rows * chunkCount(t.rowLength, C), 0));
  let at = 0;
  for (const t of tensors) {
    const { data } = weights.tensor(t.tensorId);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = data.BYTES_PER_ELEMENT;
    const rowBytes = t.rowLength * size;
    for (let r = 0; r < t.rows; r++) {
      for (const [c, chunk] of chunkRowBytes(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), size, C).entries()) {
        out.set(hasher.leaf(t.tensorId, r, c, chunk), at);
        at += 32;
      }
    }
  }
  return out;
}

/** Weights tree (for proofs of single weight chunks: `proof(weightsLeafIndex(...))`). */
export function weightsTree(weights: ModelWeights): PackedMerkleTree {
  return new PackedMerkleTree(weightsLeaves(weights));
}
