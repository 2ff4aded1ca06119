import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { Hex } from "viem";
import { chunkRange, dtypeSize } from "../../protocol/encoding/index.js";
import { toHex } from "../commit/fast-leaf.js";
import { hashPair } from "../commit/fast-tree.js";
import { StepproofRuntimeError } from "../errors.js";
import type { ChunkProof } from "./commitment.js";
import type { TraceLayout } from "./layout.js";
import { JobTokenProofs } from "./token-proofs.js";
import type { TreeFileReader } from "./tree-file.js";

export class TraceReadError extends StepproofRuntimeError {
  override name = "TraceReadError";
}

/**
 * Serves slices of one completed trace from disk at a cost proportional to what is returned:
 * one positioned read per hidden row, one per tree level per chunk's proof (PROTOCOL §4.5). The
 * leaves are never re-read as a whole and the root is never recomputed per request; instead
 * every proof served is checked against the root recorded at completion (log2 hashes), so a
 * corrupted file is refused rather than served.
 */
export class TraceReader {
  #tokenProofs: JobTokenProofs | undefined;
  #hiddenFd: number | undefined;

  constructor(
    readonly jobId: string,
    readonly layout: TraceLayout,
    readonly tokens: readonly number[],
    readonly root: Hex,
    readonly hiddenFile: string,
    readonly tree: TreeFileReader,
  ) {}

  /** Every chunk of h[t][layer] with its proof against the trace root (the row is read once). */
  hiddenChunks(t: number, layer: number): ChunkProof[] {
    const first = this.layout.hiddenLeafIndex(t, layer, 0, this.tokens.length); // range check
    const row = this.#row(t, layer);
    const size = dtypeSize(this.layout.dtype);
    const out: ChunkProof[] = [];
    for (let c = 0; c < this.layout.chunksPerRow; c++) {
      const { start, end } = chunkRange(this.layout.hidden, this.layout.chunkSize, c);
      out.push(this.#proven(first + c, { tensorId: layer, row: t, chunkIndex: c, chunk: toHex(row.subarray(start * size, end * size)) }));
    }
    return out;
  }

  /** Token t with its proof against the job's promptRoot (t < P) or outputRoot (t ≥ P), PROTOCOL §3.4. */
  tokenProof(t: number, inputTokens: number): ChunkProof {
    if (!this.#tokenProofs || this.#tokenProofs.inputTokens !== inputTokens) this.#tokenProofs = new JobTokenProofs(this.tokens, inputTokens);
    return this.#tokenProofs.proof(t);
  }

  tokenRoots(inputTokens: number): { promptRoot: Hex; outputRoot: Hex } {
    if (!this.#tokenProofs || this.#tokenProofs.inputTokens !== inputTokens) this.#tokenProofs = new JobTokenProofs(this.tokens, inputTokens);
    return { promptRoot: this.#tokenProofs.promptRoot, outputRoot: this.#tokenProofs.outputRoot };
  }

  #proven(leafIndex: number, c: Omit<ChunkProof, "leafIndex" | "leaf" | "proof">): ChunkProof {
    const leaf = this.tree.leaf(leafIndex);
    const proof = this.tree.proof(leafIndex);
    let node = leaf;
    for (const s of proof) node = hashPair(node, s);
    if (toHex(node) !== this.root) throw new TraceReadError(`stored trace of job ${this.jobId} does not prove leaf ${leafIndex} against its root`, { details: "the leaves or tree file is corrupted; this trace cannot be served" });
    return { leafIndex, ...c, leaf: toHex(leaf), proof: proof.map(toHex) };
  }

  #row(t: number, layer: number): Uint8Array {
    const { rowBytes, layers } = this.layout;
    const offset = (t * (layers + 1) + layer) * rowBytes;
    const fd = (this.#hiddenFd ??= openSync(this.hiddenFile, "r"));
    if (offset + rowBytes > fstatSync(fd).size) throw new TraceReadError(`row t=${t} l=${layer} of job ${this.jobId} is missing on disk`);
    const buf = new Uint8Array(rowBytes);
    readSync(fd, buf, 0, rowBytes, offset);
    return buf;
  }

  close(): void {
    if (this.#hiddenFd !== undefined) closeSync(this.#hiddenFd);
    this.#hiddenFd = undefined;
    this.tree.close();
  }
}
