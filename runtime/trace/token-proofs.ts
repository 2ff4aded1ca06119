import type { Hex } from "viem";
import { TOKEN_TENSOR, tokenChunk, tokenLeaf, tokenTree, type CommitmentTree } from "../../protocol/commitments/index.js";
import { toHex } from "../commit/fast-leaf.js";
import type { ChunkProof } from "./commitment.js";

/**
 * Token leaves of a job proven against its on-chain token roots (PROTOCOL §3.4), not the trace
 * root: position t < P under `promptRoot = tokenRoot(prompt, 0)`, t ≥ P under
 * `outputRoot = tokenRoot(output, P)`. What the prover serves for `layer=tokens` and what a
 * verifier checks, so the tokens it replays are the ones the client paid for and received.
 * `leafIndex` is the index within the token tree the proof is for.
 */
export class JobTokenProofs {
  readonly #prompt: CommitmentTree;
  readonly #output: CommitmentTree;

  constructor(
    readonly tokens: readonly number[],
    readonly inputTokens: number,
  ) {
    if (!Number.isInteger(inputTokens) || inputTokens < 1 || inputTokens >= tokens.length) {
      throw new RangeError(`a job needs 1 ≤ inputTokens (${inputTokens}) < tokens (${tokens.length})`);
    }
    this.#prompt = tokenTree(tokens.slice(0, inputTokens), 0);
    this.#output = tokenTree(tokens.slice(inputTokens), inputTokens);
  }

  get promptRoot(): Hex {
    return this.#prompt.root;
  }

  get outputRoot(): Hex {
    return this.#output.root;
  }

  /** Token t with its proof against promptRoot (t < P) or outputRoot (t ≥ P). */
  proof(t: number): ChunkProof {
    if (!Number.isInteger(t) || t < 0 || t >= this.tokens.length) throw new RangeError(`token position ${t} outside 0..${this.tokens.length - 1}`);
    const [tree, index] = t < this.inputTokens ? [this.#prompt, t] : [this.#output, t - this.inputTokens];
    const chunk = tokenChunk(this.tokens[t]!);
    return { leafIndex: index, tensorId: TOKEN_TENSOR, row: t, chunkIndex: 0, chunk: toHex(chunk), leaf: tokenLeaf(t, this.tokens[t]!), proof: tree.proof(index) };
  }
}
