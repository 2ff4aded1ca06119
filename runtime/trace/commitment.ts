import type { Hex } from "viem";
import { TOKEN_TENSOR } from "../../protocol/commitments/index.js";
import { chunkRange, dtypeSize } from "../../protocol/encoding/index.js";
import type { HiddenData } from "../forward.js";
import { toHex } from "../commit/fast-leaf.js";
import { PackedMerkleTree } from "../commit/packed-tree.js";
import { tokenBytes, type TraceLayout } from "./layout.js";
import { buildMultiProof, buildMultiProofs, type MultiProof } from "./multiproof.js";

/** Chunks of a slice of the trace and the multiproofs covering their leaves. */
export type TraceSlice = {
  root: Hex;
  chunks: { leafIndex: number; tensorId: number; row: number; chunkIndex: number; chunk: Hex }[];
  multiproofs: MultiProof[];
};

/** A chunk with everything `CommitmentLeaf.verifyChunk` needs (PROTOCOL §3.2–§3.4). */
export type ChunkProof = {
  leafIndex: number;
  tensorId: number;
  row: number;
  chunkIndex: number;
  chunk: Hex;
  leaf: Hex;
  proof: Hex[];
};

/** Where a committed trace's rows come from: memory (builder) or disk (store). */
export interface HiddenRowSource {
  row(t: number, layer: number): HiddenData;
}

/** A finished trace: root, leaves, proofs for any token or hidden chunk. */
export class TraceCommitment implements HiddenRowSource {
  /** Every level of the tree, hashed once at construction: the root, proofs and the store's tree file come from it. */
  readonly #tree: PackedMerkleTree;
  #hexLeaves: Hex[] | undefined;
  readonly root: Hex;
  /** All leaves in §3.4 order, 32 bytes each. */
  readonly packedLeaves: Uint8Array;

  /** `leaves`: Hex[] or the same leaves packed as consecutive 32-byte words. */
  constructor(
    readonly layout: TraceLayout,
    readonly tokens: readonly number[],
    leaves: readonly Hex[] | Uint8Array,
    readonly rows: HiddenRowSource,
  ) {
    this.packedLeaves = leaves instanceof Uint8Array ? leaves : Buffer.concat(leaves.map((l) => Buffer.from(l.slice(2), "hex")));
    const count = this.packedLeaves.byteLength / 32;
    if (count !== layout.leafCount(tokens.length)) throw new RangeError(`trace has ${count} leaves, layout needs ${layout.leafCount(tokens.length)}`);
    // Root now (wasm keccak over packed bytes, every level kept); hex leaves only when asked for.
    this.#tree = new PackedMerkleTree(this.packedLeaves);
    this.root = this.#tree.root;
  }

  get leaves(): readonly Hex[] {
    if (!this.#hexLeaves) {
      const p = this.packedLeaves;
      this.#hexLeaves = Array.from({ length: p.byteLength / 32 }, (_, i) => toHex(p.subarray(32 * i, 32 * i + 32)));
    }
    return this.#hexLeaves;
  }

  /** The tree's inner levels, as the trace store's tree file holds them. */
  innerLevels(): Uint8Array {
    return this.#tree.inner();
  }

  /** h[t][l] (row-major, trace dtype). */
  hiddenRow(t: number, layer: number): HiddenData {
    this.layout.hiddenLeafIndex(t, layer, 0, this.tokens.length); // range check
    return this.rows.row(t, layer);
  }

  /** Same as hiddenRow (HiddenRowSource, so a commitment can be replayed directly). */
  row(t: number, layer: number): HiddenData {
    return this.hiddenRow(t, layer);
  }

  chunkBytes(t: number, layer: number, chunk: number): Uint8Array {
    const row = this.hiddenRow(t, layer);
    const size = dtypeSize(this.layout.dtype);
    const { start, end } = chunkRange(this.layout.hidden, this.layout.chunkSize, chunk);
    return new Uint8Array(row.buffer, row.byteOffset + start * size, (end - start) * size);
  }

  hiddenProof(t: number, layer: number, chunk: number): ChunkProof {
    const leafIndex = this.layout.hiddenLeafIndex(t, layer, chunk, this.tokens.length);
    return { leafIndex, tensorId: layer, row: t, chunkIndex: chunk, chunk: toHex(this.chunkBytes(t, layer, chunk)), leaf: this.#tree.leaf(leafIndex), proof: this.#tree.proof(leafIndex) };
  }

  tokenProof(t: number): ChunkProof {
    const leafIndex = this.layout.tokenLeafIndex(t, this.tokens.length);
    return { leafIndex, tensorId: TOKEN_TENSOR, row: t, chunkIndex: 0, chunk: toHex(tokenBytes(this.tokens[t]!)), leaf: this.#tree.leaf(leafIndex), proof: this.#tree.proof(leafIndex) };
  }

  /** One multiproof for several leaves (PROTOCOL §3.3), for `MerkleProof.multiProofVerify`. */
  multiProof(leafIndices: readonly number[]): MultiProof {
    return buildMultiProof(this.leaves, leafIndices);
  }

  /**
   * A slice: hidden rows of positions [t0, t1) at the given boundaries, every chunk, with the
   * multiproofs (1–3, PROTOCOL §3.3) that cover their leaves. What a prover serves a verifier
   * that wants to re-execute a layer without trusting the rows.
   */
  slice(p: { t0: number; t1: number; layers: readonly number[] }): TraceSlice {
    const chunks: TraceSlice["chunks"] = [];
    for (let t = p.t0; t < p.t1; t++) {
      for (const layer of p.layers) {
        for (let c = 0; c < this.layout.chunksPerRow; c++) {
          const leafIndex = this.layout.hiddenLeafIndex(t, layer, c, this.tokens.length);
          chunks.push({ leafIndex, tensorId: layer, row: t, chunkIndex: c, chunk: toHex(this.chunkBytes(t, layer, c)) });
        }
      }
    }
    if (chunks.length === 0) throw new RangeError("empty slice");
    return { root: this.root, chunks, multiproofs: buildMultiProofs(this.leaves, chunks.map((c) => c.leafIndex)) };
  }
}
