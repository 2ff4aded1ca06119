/**
 * Model and trace containers for the dispute code: architecture, weights by tensorId
 * (PROTOCOL §3.5) and a trace of hidden states and tokens (§3.4), with their commitment trees.
 */
import { CommitmentTree, chunkLeaf, TOKEN_TENSOR, TRACE_DOMAIN, WEIGHTS_DOMAIN } from "../commitments/index.js";
import { chunkBytes, type Dtype, type EncodedTensor } from "./tensors.js";
import type { Hex } from "viem";
import { StepproofError } from "../errors.js";

export type Architecture = {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  context: number;
  normEpsBits: number;
  ropeTheta: number;
};

export type Encoding = { traceDtype: Dtype; weightsDtype: Dtype; chunkSize: number };

/** Weights keyed by tensorId = (layer << 8) | kind. */
export type Weights = Map<number, EncodedTensor>;

/** h[t][l] for t = 0..N-2, l = 0..L, plus tokens 0..N-1. */
export type Trace = {
  tokens: number[];
  /** hidden[l] is a (N-1) × hidden tensor in the trace dtype */
  hidden: EncodedTensor[];
};

export class DisputeDataError extends StepproofError {
  override name = "DisputeDataError";
}

const key = (tensor: number, row: number, chunk: number): string => `${tensor}:${row}:${chunk}`;

/** What a dispute needs of a committed tree: its root and the proof of a (tensor, row, chunk) leaf. */
export interface ChunkTree {
  readonly root: Hex;
  proof(tensor: number, row: number, chunk: number): Hex[];
}

/** A commitment tree that remembers where each (tensor, row, chunk) leaf is. */
export class IndexedTree implements ChunkTree {
  readonly tree: CommitmentTree;
  readonly #index = new Map<string, number>();

  constructor(entries: { tensor: number; row: number; chunk: number; leaf: Hex }[]) {
    entries.forEach((e, i) => this.#index.set(key(e.tensor, e.row, e.chunk), i));
    this.tree = new CommitmentTree(entries.map((e) => e.leaf));
  }

  get root(): Hex {
    return this.tree.root;
  }

  proof(tensor: number, row: number, chunk: number): Hex[] {
    const i = this.#index.get(key(tensor, row, chunk));
    if (i === undefined) throw new DisputeDataError(`leaf ${key(tensor, row, chunk)} is not in the tree`);
    return this.tree.proof(i);
  }
}

/** Weights tree, leaves by (tensorId, row, chunk) ascending. */
export function weightsTree(weights: Weights, C: number): IndexedTree {
  const entries: { tensor: number; row: number; chunk: number; leaf: Hex }[] = [];
  for (const id of [...weights.keys()].sort((a, b) => a - b)) {
    const t = weights.get(id)!;
    const chunks = Math.ceil(t.rowLength / C);
    for (let r = 0; r < t.rows; r++) {
      for (let c = 0; c < chunks; c++) {
        entries.push({ tensor: id, row: r, chunk: c, leaf: chunkLeaf({ domain: WEIGHTS_DOMAIN, tensorId: id, row: r, chunkIndex: c }, chunkBytes(t, r, c, C)) });
      }
    }
  }
  return new IndexedTree(entries);
}

export function tokenBytes(token: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, token, true);
  return b;
}

/** Trace tree: tokens by position, then hidden states by (t, l, chunk). */
export function traceTree(trace: Trace, C: number): IndexedTree {
  const entries: { tensor: number; row: number; chunk: number; leaf: Hex }[] = [];
  trace.tokens.forEach((tok, t) =>
    entries.push({ tensor: TOKEN_TENSOR, row: t, chunk: 0, leaf: chunkLeaf({ domain: TRACE_DOMAIN, tensorId: TOKEN_TENSOR, row: t, chunkIndex: 0 }, tokenBytes(tok)) }),
  );
  const positions = trace.tokens.length - 1;
  for (let t = 0; t < positions; t++) {
    for (let l = 0; l < trace.hidden.length; l++) {
      const h = trace.hidden[l]!;
      for (let c = 0; c < Math.ceil(h.rowLength / C); c++) {
        entries.push({ tensor: l, row: t, chunk: c, leaf: chunkLeaf({ domain: TRACE_DOMAIN, tensorId: l, row: t, chunkIndex: c }, chunkBytes(h, t, c, C)) });
      }
    }
  }
  return new IndexedTree(entries);
}
