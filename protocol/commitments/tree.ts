import { MerkleTree } from "merkletreejs";
import { bytesToHex, hexToBytes, keccak256, type Hex } from "viem";

const keccakBuffer = (data: Buffer): Buffer => Buffer.from(keccak256(data, "bytes"));

/**
 * Merkle tree of PROTOCOL §3.3: sorted-pair keccak256 inner nodes (OpenZeppelin MerkleProof),
 * odd node promoted, leaves in the caller's canonical order, leaves already hashed.
 */
export class CommitmentTree {
  readonly #tree: MerkleTree;
  readonly #index = new Map<Hex, number>();

  constructor(leaves: readonly Hex[]) {
    if (leaves.length === 0) throw new RangeError("a commitment tree needs at least one leaf");
    leaves.forEach((leaf, i) => {
      if (!this.#index.has(leaf)) this.#index.set(leaf, i);
    });
    this.#tree = new MerkleTree(
      leaves.map((leaf) => Buffer.from(hexToBytes(leaf))),
      keccakBuffer,
      { sortPairs: true },
    );
  }

  get root(): Hex {
    return bytesToHex(this.#tree.getRoot());
  }

  get leafCount(): number {
    return this.#tree.getLeafCount();
  }

  /** Sibling path for the leaf at `index`, bottom-up, as `MerkleProof.verify` expects. */
  proof(index: number): Hex[] {
    const leaf = this.#tree.getLeaf(index);
    if (leaf.length === 0) throw new RangeError(`no leaf at index ${index}`);
    return this.#tree.getProof(leaf, index).map((p) => bytesToHex(p.data));
  }

  /** Index of a leaf in canonical order, or -1. */
  indexOf(leaf: Hex): number {
    return this.#index.get(leaf) ?? -1;
  }
}

/** Recompute a root from a leaf and its proof (sorted pairs), as OpenZeppelin does. */
export function processProof(leaf: Hex, proof: readonly Hex[]): Hex {
  let node = hexToBytes(leaf);
  for (const sibling of proof) {
    const s = hexToBytes(sibling);
    const [a, b] = Buffer.compare(Buffer.from(node), Buffer.from(s)) <= 0 ? [node, s] : [s, node];
    const joined = new Uint8Array(64);
    joined.set(a, 0);
    joined.set(b, 32);
    node = keccak256(joined, "bytes");
  }
  return bytesToHex(node);
}

export function verifyProof(leaf: Hex, proof: readonly Hex[], root: Hex): boolean {
  return processProof(leaf, proof).toLowerCase() === root.toLowerCase();
}
