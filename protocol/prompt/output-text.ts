import { PromptEncodingError } from "./errors.js";
import type { TextTokenizer } from "./tokenizer.js";

/** OpenAI's limit on `stop`: up to four non-empty strings. */
export const MAX_STOP_STRINGS = 4;

export function validateStop(stop: string | readonly string[] | null | undefined): string[] {
  const list = stop === null || stop === undefined ? [] : typeof stop === "string" ? [stop] : [...stop];
  if (list.length > MAX_STOP_STRINGS) throw new PromptEncodingError(`at most ${MAX_STOP_STRINGS} stop strings`);
  if (list.some((s) => s.length === 0)) throw new PromptEncodingError("stop strings must not be empty");
  return list;
}

/**
 * The text of a job's output as it streams (PROTOCOL §5.6): the tokenizer's incremental decoding
 * of the output ids after the prompt, cut before the first occurrence of any stop string. Text
 * that could still become a stop string is held back, so no part of a stop string is ever sent.
 * `push` says when a stop string has appeared: generation ends after that token (its ids are
 * still the job's output, committed and paid for).
 */
export class OutputText {
  readonly #decoder;
  readonly #stop: string[];
  #held = "";
  #stopped = false;

  constructor(tokenizer: TextTokenizer, promptIds: readonly number[], stop: readonly string[] = []) {
    this.#decoder = tokenizer.streamDecoder(promptIds);
    this.#stop = [...stop];
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Text that is final after `id`. */
  push(id: number): string {
    if (this.#stopped) return "";
    return this.#release(this.#decoder.push([id]), false);
  }

  /** What is left once generation has ended. */
  finish(): string {
    if (this.#stopped) return "";
    return this.#release(this.#decoder.flush(), true);
  }

  #release(piece: string, last: boolean): string {
    const text = this.#held + piece;
    let cut = -1;
    for (const s of this.#stop) {
      const at = text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.#stopped = true;
      this.#held = "";
      return text.slice(0, cut);
    }
    const keep = last ? 0 : this.#pendingStopPrefix(text);
    this.#held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** Length of the longest suffix of `text` that a stop string starts with. */
  #pendingStopPrefix(text: string): number {
    let best = 0;
    for (const s of this.#stop) {
      for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
        if (text.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}

/** The whole output text of a job at once: what a client checks the streamed text against. */
export function outputText(tokenizer: TextTokenizer, promptIds: readonly number[], outputIds: readonly number[], stop: readonly string[] = []): string {
  const o = new OutputText(tokenizer, promptIds, stop);
  let text = "";
  for (const id of outputIds) {
    text += o.push(id);
    if (o.stopped) break;
  }
  return text + o.finish();
}
