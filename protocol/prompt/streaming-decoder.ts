/**
 * Incremental detokenization (PROTOCOL §5.6), the same on the prover and the client: the text
 * of generated ids is produced piece by piece, and its pieces concatenate to the one output
 * text both sides check.
 *
 * Decoding one id at a time is wrong for real tokenizers: a SentencePiece piece "▁the" is
 * " the" after other text but "the" at the start of a decode (the decoder strips the leading
 * space the normalizer added), and byte-fallback pieces carry single UTF-8 bytes of a
 * character that only exists once all its bytes are there. So each step decodes a short window
 * that starts a few ids back — in the prompt, for the first ids — and emits what the new ids
 * added to it; while the window's text ends in U+FFFD (an unfinished character), nothing is
 * emitted and the ids wait for the next one. `flush` emits whatever is left, replacement
 * characters included. (vLLM's incremental detokenizer works the same way.)
 */
export const CONTEXT_IDS = 4;
const REPLACEMENT = "\uFFFD";

export class StreamingDecoder {
  readonly #ids: number[];
  /** Window start, and the end of what has been emitted. */
  #prefix: number;
  #read: number;

  constructor(
    private readonly decode: (ids: readonly number[]) => string,
    context: readonly number[] = [],
  ) {
    this.#ids = [...context];
    this.#read = this.#ids.length;
    this.#prefix = Math.max(0, this.#read - CONTEXT_IDS);
  }

  /** Text completed by `ids` (possibly empty while a character is unfinished). */
  push(ids: readonly number[]): string {
    this.#ids.push(...ids);
    const before = this.#text(this.#read);
    const after = this.#text(this.#ids.length);
    if (after.length <= before.length || after.endsWith(REPLACEMENT)) return "";
    this.#prefix = this.#read;
    this.#read = this.#ids.length;
    return after.slice(before.length);
  }

  /** Whatever unfinished text is left at the end (as U+FFFD). */
  flush(): string {
    const before = this.#text(this.#read);
    const after = this.#text(this.#ids.length);
    this.#prefix = this.#read = this.#ids.length;
    return after.length > before.length ? after.slice(before.length) : "";
  }

  #text(end: number): string {
    return end > this.#prefix ? this.decode(this.#ids.slice(this.#prefix, end)) : "";
  }
}
