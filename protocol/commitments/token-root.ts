import type { Hex } from "viem";
import { TOKEN_TENSOR, TRACE_DOMAIN } from "./domains.js";
import { chunkLeaf } from "./leaf.js";
import { CommitmentTree, verifyProof } from "./tree.js";

/**
 * Token roots (PROTOCOL §3.4): a run of tokens at absolute positions `first .. first+n-1`
 * committed by the §3.3 tree over their token leaves in position order. A job's `promptRoot`
 * is `tokenRoot(prompt, 0)`, its `outputRoot` is `tokenRoot(output, P)` with P the prompt
 * length. The leaves are exactly the trace's token leaves, so one leaf function serves the
 * trace, the roots and the judge. Solidity mirror: `contracts/libraries/TokenRoot.sol`.
 */

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`token id out of range: ${id}`);
}

function checkRun(ids: readonly number[], firstPosition: number): void {
  if (ids.length === 0) throw new RangeError("a token root needs at least one token");
  if (!Number.isSafeInteger(firstPosition) || firstPosition < 0) throw new RangeError(`first position out of range: ${firstPosition}`);
  ids.forEach(checkId);
}

/** Chunk bytes of a token leaf: the id as uint32 little-endian (PROTOCOL §3.4). */
export function tokenChunk(id: number): Uint8Array {
  checkId(id);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, id, true);
  return b;
}

/** The leaf of token `id` at absolute position `position`. */
export function tokenLeaf(position: number, id: number): Hex {
  return chunkLeaf({ domain: TRACE_DOMAIN, tensorId: TOKEN_TENSOR, row: position, chunkIndex: 0 }, tokenChunk(id));
}

/** The §3.3 tree over `ids` at positions from `firstPosition` (for roots and proofs alike). */
export function tokenTree(ids: readonly number[], firstPosition: number): CommitmentTree {
  checkRun(ids, firstPosition);
  return new CommitmentTree(ids.map((id, i) => tokenLeaf(firstPosition + i, id)));
}

/** Root over `ids` at positions `firstPosition ..` (promptRoot: first 0; outputRoot: first P). */
export function tokenRoot(ids: readonly number[], firstPosition: number): Hex {
  return tokenTree(ids, firstPosition).root;
}

export type TokenLeafProof = { position: number; id: number; leaf: Hex; proof: Hex[] };

/** Proof that `ids[position − firstPosition]` sits at `position` under `tokenRoot(ids, firstPosition)`. */
export function tokenLeafProof(ids: readonly number[], firstPosition: number, position: number, tree = tokenTree(ids, firstPosition)): TokenLeafProof {
  const index = position - firstPosition;
  if (!Number.isInteger(index) || index < 0 || index >= ids.length) throw new RangeError(`position ${position} is outside ${firstPosition}..${firstPosition + ids.length - 1}`);
  const id = ids[index]!;
  return { position, id, leaf: tokenLeaf(position, id), proof: tree.proof(index) };
}

/** Whether token `id` at `position` is committed under `root`. */
export function verifyTokenLeaf(root: Hex, position: number, id: number, proof: readonly Hex[]): boolean {
  return verifyProof(tokenLeaf(position, id), proof, root);
}

/**
 * A job's two token trees (PROTOCOL §3.4): positions t < inputTokens under
 * `promptRoot = tokenRoot(prompt, 0)`, the rest under `outputRoot = tokenRoot(output, P)`.
 * `output` is undefined when there are no tokens after the prompt.
 */
export class JobTokenTrees {
  readonly prompt: CommitmentTree;
  readonly output: CommitmentTree | undefined;

  constructor(
    readonly tokens: readonly number[],
    readonly inputTokens: number,
  ) {
    this.prompt = tokenTree(tokens.slice(0, inputTokens), 0);
    this.output = tokens.length > inputTokens ? tokenTree(tokens.slice(inputTokens), inputTokens) : undefined;
  }

  /** The tree holding position `t` and the leaf's index in it. */
  locate(t: number): { tree: CommitmentTree; index: number } {
    if (!Number.isInteger(t) || t < 0 || t >= this.tokens.length) throw new RangeError(`token position ${t} outside 0..${this.tokens.length - 1}`);
    if (t < this.inputTokens) return { tree: this.prompt, index: t };
    return { tree: this.output!, index: t - this.inputTokens };
  }

  proof(t: number): Hex[] {
    const { tree, index } = this.locate(t);
    return tree.proof(index);
  }
}
