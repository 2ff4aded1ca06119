import type { SentencePieceVocab } from "./sentencepiece-vocab.js";

/**
 * A Hugging Face `tokenizer.json` for a Llama-2 style SentencePiece BPE vocabulary, built the
 * way transformers' slow→fast conversion builds it (LlamaConverter, legacy layout), so the
 * result is the file Hugging Face would ship for this vocabulary:
 *
 * - model: BPE over the pieces (id = SentencePiece id), `byte_fallback` (an unknown character
 *   becomes its UTF-8 bytes' `<0xXX>` pieces), `fuse_unk`, unk `<unk>`;
 * - merges: for every piece, each split into two pieces that are both in the vocabulary;
 *   splits of one piece ordered by the ids of (left, right), then all of them by the merged
 *   piece's score, highest first (stable). SentencePiece merges the adjacent pair whose union
 *   scores highest; BPE merges the pair of lowest rank: the same order;
 * - normalizer: prepend `▁`, replace every space by `▁` (SentencePiece's dummy prefix and
 *   whitespace); no pre-tokenizer (SentencePiece does not split before merging);
 * - post-processor: BOS before the sequence (what `add_special_tokens` adds);
 * - decoder: `▁` → space, byte pieces → bytes, fuse, strip the one leading space the normalizer
 *   added;
 * - added tokens: `<unk>`, `<s>`, `</s>`, special, never normalized.
 */
export type TokenizerJson = Record<string, unknown>;

export function llamaMerges(v: SentencePieceVocab): [string, string][] {
  const ids = new Map(v.pieces.map((p, i) => [p, i]));
  const merges: { left: string; right: string; score: number }[] = [];
  for (const [id, piece] of v.pieces.entries()) {
    const chars = Array.from(piece); // split between code points, never inside a surrogate pair
    const local: { left: string; right: string; score: number }[] = [];
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join("");
      const right = chars.slice(i).join("");
      if (ids.has(left) && ids.has(right)) local.push({ left, right, score: v.scores[id]! });
    }
    local.sort((a, b) => ids.get(a.left)! - ids.get(b.left)! || ids.get(a.right)! - ids.get(b.right)!);
    merges.push(...local);
  }
  merges.sort((a, b) => b.score - a.score); // Array.prototype.sort is stable
  return merges.map((m) => [m.left, m.right]);
}

export function llamaTokenizerJson(v: SentencePieceVocab): TokenizerJson {
  const special = (id: number) => ({ id, content: v.pieces[id]!, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = v.pieces[v.bos]!;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(v.unk), special(v.bos), special(v.eos)],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "\u2581" },
        { type: "Replace", pattern: { String: " " }, content: "\u2581" },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [v.bos], tokens: [bos] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "\u2581" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: v.pieces[v.unk],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(v.pieces.map((p, i) => [p, i])),
      merges: llamaMerges(v),
    },
  };
}
