import { TokenizerFileError } from "../../protocol/prompt/errors.js";

/**
 * A SentencePiece BPE vocabulary as llama2.c exports it (`tokenizer.bin`): uint32
 * max_token_length, then per piece float32 score, uint32 byte length, UTF-8 bytes — for every
 * id in order, with no count (run.c takes it from the checkpoint's vocab_size).
 *
 * The export is lossy in three known ways, undone here so the pieces are SentencePiece's own:
 * `▁` (U+2581, SentencePiece's whitespace) was written as a space; BOS and EOS were written as
 * "\n<s>\n" and "\n</s>\n"; and the 256 byte-fallback pieces `<0x00>`…`<0xFF>` were written
 * either literally or (older exports, like the one stories15M ships with) as the character
 * with that code point. The ids of the special pieces are llama2.c's fixed ones.
 */
export type SentencePieceVocab = { pieces: string[]; scores: Float32Array; unk: number; bos: number; eos: number; byteFallback: { first: number } };

export const LLAMA2C_SPECIALS = { unk: 0, bos: 1, eos: 2 } as const;
/** llama2.c vocabularies put the byte pieces right after the three specials. */
const FIRST_BYTE_PIECE = 3;

export const bytePiece = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;

export function parseLlama2cTokenizer(bytes: Uint8Array, expectedVocab: number, file = "tokenizer.bin"): SentencePieceVocab {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  if (bytes.byteLength < 4) throw new TokenizerFileError(`${file} is empty`);
  const maxLength = view.getUint32(0, true);
  const pieces: string[] = [];
  const scores = new Float32Array(expectedVocab);
  let at = 4;
  while (at < bytes.byteLength) {
    if (pieces.length >= expectedVocab) throw new TokenizerFileError(`${file} has more than the checkpoint's ${expectedVocab} pieces`);
    if (at + 8 > bytes.byteLength) throw new TokenizerFileError(`${file} is truncated at byte ${at}`);
    const score = view.getFloat32(at, true);
    const len = view.getUint32(at + 4, true);
    at += 8;
    if (len > maxLength || at + len > bytes.byteLength) throw new TokenizerFileError(`${file}: piece ${pieces.length} claims ${len} bytes (max_token_length ${maxLength})`);
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(at, at + len));
    } catch (cause) {
      throw new TokenizerFileError(`${file}: piece ${pieces.length} is not UTF-8`, { cause });
    }
    at += len;
    scores[pieces.length] = score;
    pieces.push(text);
  }
  if (pieces.length !== expectedVocab) throw new TokenizerFileError(`${file} has ${pieces.length} pieces, the checkpoint's vocabulary ${expectedVocab}`);
  return restorePieces(pieces, scores, file);
}

function restorePieces(exported: string[], scores: Float32Array, file: string): SentencePieceVocab {
  const { unk, bos, eos } = LLAMA2C_SPECIALS;
  const expect = (id: number, ok: boolean, what: string) => {
    if (!ok) throw new TokenizerFileError(`${file}: piece ${id} is ${JSON.stringify(exported[id])}, expected ${what}`, { details: "not a Llama-2 style SentencePiece vocabulary (unk, bos, eos, then 256 byte pieces)" });
  };
  expect(unk, exported[unk] === "<unk>", "<unk>");
  expect(bos, exported[bos]!.trim() === "<s>", "<s>");
  expect(eos, exported[eos]!.trim() === "</s>", "</s>");
  const pieces = exported.map((p) => p.replaceAll(" ", "\u2581"));
  pieces[bos] = "<s>";
  pieces[eos] = "</s>";
  for (let b = 0; b < 256; b++) {
    const id = FIRST_BYTE_PIECE + b;
    expect(id, exported[id] === bytePiece(b) || exported[id] === String.fromCharCode(b), `byte piece ${bytePiece(b)}`);
    pieces[id] = bytePiece(b);
  }
  const seen = new Map<string, number>();
  pieces.forEach((p, id) => {
    const other = seen.get(p);
    if (other !== undefined) throw new TokenizerFileError(`${file}: pieces ${other} and ${id} are both ${JSON.stringify(p)}`);
    seen.set(p, id);
  });
  return { pieces, scores, unk, bos, eos, byteFallback: { first: FIRST_BYTE_PIECE } };
}
