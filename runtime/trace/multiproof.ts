import { hexToBytes, type Hex } from "viem";
import { StepproofRuntimeError } from "../errors.js";
import { toHex } from "../commit/fast-leaf.js";
import { hashPair } from "../commit/fast-tree.js";

/**
 * Multiproofs for the odd-promotion trees of PROTOCOL §3.3 in the form OpenZeppelin's
 * `MerkleProof.multiProofVerify(proof, proofFlags, root, leaves)` consumes.
 *
 * OpenZeppelin processes one FIFO queue (the leaves in the order given, then each hash it
 * computes). That works for a set of proven leaves iff, walking the proven subtree breadth
 * first from the root, every internal node comes before every proven leaf. Where odd nodes
 * are promoted, a promoted leaf can sit higher than internal nodes of the same proof, and no
 * flag sequence expresses that: such sets are rejected (MultiProofUnsupportedError) and must
 * be proven leaf by leaf. Every set of leaves at the tree's full depth works, in particular
 * any set within the first 2^(D-1) leaves, and any set when the leaf count is a power of two.
 */
export type MultiProof = {
  /** Leaf indices in the order the `leaves` argument must list them. */
  leafIndices: number[];
  leaves: Hex[];
  proof: Hex[];
  proofFlags: boolean[];
};

export class MultiProofUnsupportedError extends StepproofRuntimeError {
  override name = "MultiProofUnsupportedError";
}

type Node = { hash: Uint8Array; left?: number; right?: number; leafIndex?: number };


/** The tree as explicit nodes; promoted nodes keep their identity. Returns [nodes, rootId]. */
function buildNodes(leaves: readonly Hex[]): [Node[], number] {
  const nodes: Node[] = leaves.map((l, i) => ({ hash: hexToBytes(l), leafIndex: i }));
  let level = nodes.map((_, i) => i);
  while (level.length > 1) {
    const next: number[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) {
      const [l, r] = [level[i]!, level[i + 1]!];
      next.push(nodes.push({ hash: hashPair(nodes[l]!.hash, nodes[r]!.hash), left: l, right: r }) - 1);
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return [nodes, level[0]!];
}

export function buildMultiProof(leaves: readonly Hex[], leafIndices: readonly number[]): MultiProof {
  if (leafIndices.length === 0) throw new RangeError("a multiproof needs at least one leaf");
  const wanted = new Set(leafIndices);
  for (const i of wanted) if (!Number.isInteger(i) || i < 0 || i >= leaves.length) throw new RangeError(`leaf ${i} out of range`);
  const [nodes, root] = buildNodes(leaves);
  // Mark the proven subtree: every node with a proven leaf below it.
  const inSet = new Uint8Array(nodes.length);
  for (let id = 0; id < nodes.length; id++) {
    const n = nodes[id]!;
    inSet[id] = n.leafIndex !== undefined ? (wanted.has(n.leafIndex) ? 1 : 0) : inSet[n.left!]! | inSet[n.right!]!;
  }
  // Breadth-first order of the proven subtree.
  const bfs: number[] = [root];
  for (let i = 0; i < bfs.length; i++) {
    const n = nodes[bfs[i]!]!;
    if (n.leafIndex !== undefined) continue;
    if (inSet[n.left!]) bfs.push(n.left!);
    if (inSet[n.right!]) bfs.push(n.right!);
  }
  const firstLeaf = bfs.findIndex((id) => nodes[id]!.leafIndex !== undefined);
  if (bfs.slice(firstLeaf).some((id) => nodes[id]!.leafIndex === undefined)) {
    throw new MultiProofUnsupportedError("these leaves cannot share one OpenZeppelin multiproof in an odd-promotion tree", {
      details: "a promoted leaf lies above an internal node of the proof (PROTOCOL §3.3); prove them with single proofs",
    });
  }
  const order = bfs.reverse();
  const leafNodes = order.filter((id) => nodes[id]!.leafIndex !== undefined);
  const proof: Hex[] = [];
  const proofFlags: boolean[] = [];
  for (const id of order) {
    const n = nodes[id]!;
    if (n.leafIndex !== undefined) continue;
    const both = inSet[n.left!]! && inSet[n.right!]!;
    proofFlags.push(Boolean(both));
    if (!both) proof.push(toHex(nodes[inSet[n.left!] ? n.right! : n.left!]!.hash));
  }
  return {
    leafIndices: leafNodes.map((id) => nodes[id]!.leafIndex!),
    leaves: leafNodes.map((id) => toHex(nodes[id]!.hash)),
    proof,
    proofFlags,
  };
}

/** OpenZeppelin's processMultiProof, in TypeScript, for off-chain checks. */
export function processMultiProof(p: Pick<MultiProof, "leaves" | "proof" | "proofFlags">): Hex {
  const { leaves, proof, proofFlags } = p;
  if (leaves.length + proof.length !== proofFlags.length + 1) throw new RangeError("invalid multiproof lengths");
  const hashes: Uint8Array[] = [];
  let [leafPos, hashPos, proofPos] = [0, 0, 0];
  const next = (): Uint8Array => (leafPos < leaves.length ? hexToBytes(leaves[leafPos++]!) : hashes[hashPos++]!);
  for (const flag of proofFlags) {
    const a = next();
    const b = flag ? next() : hexToBytes(proof[proofPos++]!);
    hashes.push(hashPair(a, b));
  }
  if (proofFlags.length > 0) return toHex(hashes[hashes.length - 1]!);
  return leaves.length > 0 ? leaves[0]! : proof[0]!;
}

/**
 * Any set of leaves as few OpenZeppelin multiproofs as the tree allows: one when supported,
 * otherwise one per group of leaves at equal depth (every internal node of such a group is
 * shallower than its leaves, so the breadth-first condition holds). Odd promotion gives at
 * most a handful of distinct leaf depths, so a slice costs 1–3 multiproofs.
 */
export function buildMultiProofs(leaves: readonly Hex[], leafIndices: readonly number[]): MultiProof[] {
  try {
    return [buildMultiProof(leaves, leafIndices)];
  } catch (err) {
    if (!(err instanceof MultiProofUnsupportedError)) throw err;
  }
  const depth = leafDepths(leaves.length);
  const groups = new Map<number, number[]>();
  for (const i of new Set(leafIndices)) {
    const d = depth[i]!;
    (groups.get(d) ?? groups.set(d, []).get(d)!).push(i);
  }
  return [...groups.values()].map((g) => buildMultiProof(leaves, g));
}

/** Depth of every leaf in the §3.3 tree of n leaves (root depth 0). */
export function leafDepths(n: number): number[] {
  const depth = new Array<number>(n).fill(0);
  // Each level pairs nodes (i, i+1); members of a pair get one level deeper, a promoted one not.
  let groups = Array.from({ length: n }, (_, i) => [i]);
  while (groups.length > 1) {
    const next: number[][] = [];
    for (let i = 0; i + 1 < groups.length; i += 2) {
      const merged = [...groups[i]!, ...groups[i + 1]!];
      for (const leaf of merged) depth[leaf]! += 1;
      next.push(merged);
    }
    if (groups.length % 2 === 1) next.push(groups[groups.length - 1]!);
    groups = next;
  }
  return depth;
}
