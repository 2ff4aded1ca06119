/**
 * Data-availability demands (PROTOCOL §7.4): the leaves a challenger may demand in one round,
 * their keys, and how a prover answers a demand from its own trees, split so that no reveal
 * transaction exceeds the calldata budget.
 */
import type { Hex } from "viem";
import { SRC_STEP, SRC_TRACE, type Loc } from "../evaluator/judge.js";
import { chunkReader, type DisputeData, type Opening } from "./proofs.js";
import { DisputeDataError } from "./model.js";

/** One demanded leaf (StepProofGame.Leaf): src 2 step leaf, src 0 trace hidden-state leaf h[row][tensor]. */
export type DemandLeaf = { src: typeof SRC_TRACE | typeof SRC_STEP; tensor: number; row: number; chunk: number };
/** The ABI form of a leaf (uint8 src, uint256 tensor, row, chunk). */
export type LeafArg = { src: number; tensor: bigint; row: bigint; chunk: bigint };

/** Key of a revealed chunk, by source and leaf coordinates. */
export const leafKey = (src: number, tensor: number, row: number, chunk: number): string => `${src}:${tensor}:${row}:${chunk}`;
export const locKey = (l: Pick<Loc, "src" | "tensor" | "row" | "chunk">): string => leafKey(l.src, l.tensor, l.row, l.chunk);

export const toLeafArg = (l: DemandLeaf): LeafArg => ({ src: l.src, tensor: BigInt(l.tensor), row: BigInt(l.row), chunk: BigInt(l.chunk) });
export const fromLeafArg = (l: { src: number; tensor: bigint; row: bigint; chunk: bigint }): DemandLeaf => ({
  src: l.src as DemandLeaf["src"],
  tensor: Number(l.tensor),
  row: Number(l.row),
  chunk: Number(l.chunk),
});

/**
 * Calldata budget of one reveal transaction for the data and proofs (bytes): a 16-leaf answer
 * at C = 256 binary32 with depth-29 proofs is ~31 KB of them, over the 32 KB per transaction
 * the protocol keeps to once the ABI framing is added, so the prover splits it.
 */
export const REVEAL_CALLDATA_BUDGET = 24_000;

/**
 * The next reveal transaction's arguments for an outstanding demand: as many unrevealed leaves
 * as fit in the budget (at least one), the others left empty for a later call.
 */
export function revealArgs(data: DisputeData, leaves: readonly DemandLeaf[], revealedMask: number): { data: Hex[]; proofs: Hex[][] } {
  if (!data.stepTree && leaves.some((l) => l.src === SRC_STEP)) throw new DisputeDataError("no step tree: the step root has not been built");
  const read = chunkReader(data);
  const out: { data: Hex[]; proofs: Hex[][] } = { data: [], proofs: [] };
  let used = 0;
  leaves.forEach((l, i) => {
    const skip: [Hex, Hex[]] = ["0x", []];
    if ((revealedMask >> i) & 1) return void (out.data.push(skip[0]), out.proofs.push(skip[1]));
    const rowLen = l.src === SRC_TRACE ? data.arch.hidden : data.step!.tensors.get(l.tensor)?.rowLength;
    if (rowLen === undefined) throw new DisputeDataError(`demanded step tensor ${l.tensor} is not in the step`);
    const bytes = read({ ...l, rowLen } satisfies Loc);
    const tree = l.src === SRC_TRACE ? data.traceTree : data.stepTree!;
    const proof = tree.proof(l.tensor, l.row, l.chunk);
    const size = bytes.length + 32 * proof.length + 128;
    if (used > 0 && used + size > REVEAL_CALLDATA_BUDGET) return void (out.data.push(skip[0]), out.proofs.push(skip[1]));
    used += size;
    out.data.push(`0x${Buffer.from(bytes).toString("hex")}`);
    out.proofs.push(proof);
  });
  return out;
}

/** Bytes of a revealed chunk. */
export const openingBytes = (o: Opening): Uint8Array => Buffer.from(o.chunk.slice(2), "hex");
