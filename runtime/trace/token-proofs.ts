import type { Hex } from "viem";
import { JobTokenTrees, TOKEN_TENSOR, tokenChunk, tokenLeaf } from "../../protocol/commitments/index.js";
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
  readonly #trees: JobTokenTrees;

  constructor(
    readonly tokens: readonly number[],
    readonly inputTokens: number,
  ) {
    if (!Number.isInteger(inputTokens) || inputTokens < 1 || inputTokens >= tokens.length) {
      throw new RangeError(`a job needs 1 ≤ inputTokens (${inputTokens}) < tokens (${tokens.length})`);
    }
    this.#trees = new JobTokenTrees(tokens, inputTokens);
  }

  get promptRoot(): Hex {
    return this.#trees.prompt.root;
  }

  get outputRoot(): Hex {
    return this.#trees.output!.root;
  }

  /** Token t with its proof against promptRoot (t < P) or outputRoot (t ≥ P). */
  proof(t: number): ChunkProof {
    const { tree, index } = this.#trees.locate(t);
    const chunk = tokenChunk(this.tokens[t]!);
    return { leafIndex: index, tensorId: TOKEN_TENSOR, row: t, chunkIndex: 0, chunk: toHex(chunk), leaf: tokenLeaf(t, this.tokens[t]!), proof: tree.proof(index) };
  }
}
