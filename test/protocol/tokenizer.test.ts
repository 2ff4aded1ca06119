import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { TokenizerFileError } from "../../protocol/prompt/errors.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { OutputText, outputText } from "../../protocol/prompt/output-text.js";
import type { TextTokenizer } from "../../protocol/prompt/tokenizer.js";
import { readTokenizerFiles } from "../../runtime/model/tokenizer-files.js";
import { readManifest } from "../../runtime/model/manifest.js";
import { Xoshiro128 } from "../../runtime/model/prng.js";
import { stories15M } from "../helpers/stories15m.js";

/**
 * llama2.c's own encoder (run.c `encode`), written here from its description: the text gets a
 * dummy-prefix space, each UTF-8 character becomes its piece (or its bytes' pieces, id = byte + 3),
 * then the adjacent pair whose concatenation is a piece with the highest score merges, leftmost
 * first, until none does. It reads tokenizer.bin directly and shares nothing with the
 * Hugging Face path (converted tokenizer.json + @huggingface/tokenizers) it checks.
 */
function llama2cEncoder(bin: Uint8Array) {
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const pieces: string[] = [];
  const scores: number[] = [];
  for (let at = 4; at < bin.length; ) {
    scores.push(view.getFloat32(at, true));
    const len = view.getUint32(at + 4, true);
    // Byte pieces (ids 3..258) are written as run.c expects them, "<0xXX>": never part of a merge.
    const id = pieces.length;
    pieces.push(id >= 3 && id < 259 ? `<0x${(id - 3).toString(16)}>` : new TextDecoder().decode(bin.subarray(at + 8, at + 8 + len)));
    at += 8 + len;
  }
  const lookup = new Map(pieces.map((p, i) => [p, i] as const).filter(([, i]) => i >= 3));
  return (text: string): number[] => {
    const ids: number[] = [];
    for (const ch of Array.from(` ${text}`)) {
      const id = lookup.get(ch);
      if (id !== undefined) ids.push(id);
      else for (const b of new TextEncoder().encode(ch)) ids.push(b + 3);
    }
    for (;;) {
      let best = -Infinity;
      let at = -1;
      let merged = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const id = lookup.get(pieces[ids[i]!]! + pieces[ids[i + 1]!]!);
        if (id !== undefined && scores[id]! > best) [best, at, merged] = [scores[id]!, i, id];
      }
      if (at < 0) return [1, ...ids];
      ids.splice(at, 2, merged);
    }
  };
}

const SAMPLES = [
  "Once upon a time",
  "Lily and Ben went to the park. They saw a big dog!",
  "  two  leading spaces, trailing  ",
  "tabs\tand\r\nCRLF\nnewlines",
  "naïve café, smörgåsbord, Ærø, ĳ",
  "emoji 😀🙈 and a ZWJ family 👨‍👩‍👧",
  "日本語のテキストと中文",
  "numbers 3.14159, 2026-12-06, $1,000,000",
  "<0x41> looks like a byte piece but is text",
  "x",
];

describe("stories15M tokenizer (PROTOCOL §5.6)", async () => {
  const model = await stories15M();
  let tok: TextTokenizer;
  let reference: (text: string) => number[];

  beforeAll(async () => {
    if (!model) return;
    const manifest = await readManifest(model.dir);
    tok = loadTokenizer(manifest.tokenizer, await readTokenizerFiles(model.dir, manifest.tokenizer));
    reference = llama2cEncoder(readFileSync(model.source.tokenizer));
  });

  it.skipIf(!model)("gives llama2.c's own ids on every sample, and decodes back to the text", () => {
    for (const s of SAMPLES) {
      const ids = tok.encode(s);
      expect(ids, s).toEqual(reference(s));
      expect(tok.decode(ids), s).toBe(s);
    }
    expect(tok.encode("Once upon a time")).toEqual([1, 9038, 2501, 263, 931]);
    // Where Hugging Face and llama2.c differ: HF matches special tokens (normalized: false) in
    // the raw text, as transformers' fast Llama tokenizer does; llama2.c spells them out.
    const special = tok.encode("a <s> b</s>");
    expect(special.filter((id) => id === 1)).toHaveLength(2);
    expect(special.at(-1)).toBe(2);
    expect(reference("a <s> b</s>")).not.toContain(2);
  });

  it.skipIf(!model)("streams text that concatenates to the text after the prompt: spaces, byte pieces, multi-byte characters", () => {
    const rng = new Xoshiro128(11, 2);
    for (let trial = 0; trial < 200; trial++) {
      const prompt = SAMPLES[trial % SAMPLES.length]!;
      const continuation = SAMPLES[(trial * 7 + 3) % SAMPLES.length]!;
      const context = tok.encode(prompt);
      const whole = tok.encode(`${prompt} ${continuation}`);
      // Output ids: the continuation as encoded, or random ids (byte pieces split characters).
      const ids = trial % 2 === 0 ? whole.slice(context.length) : Array.from({ length: 12 }, () => (rng.nextUint32() % 4 === 0 ? 3 + (0x80 + (rng.nextUint32() % 0x40)) : rng.nextUint32() % 32000));
      const d = tok.streamDecoder(context);
      let streamed = "";
      for (const id of ids) streamed += d.push([id]);
      streamed += d.flush();
      const full = tok.decode([...context, ...ids]);
      const head = tok.decode(context);
      if (full.startsWith(head)) expect(streamed, `trial ${trial}`).toBe(full.slice(head.length));
      if (trial % 2 === 0) expect(prompt + streamed).toBe(`${prompt} ${continuation}`);
    }
    // The space piece is text at once; the emoji's four byte pieces arrive as one character.
    const d = tok.streamDecoder(tok.encode("a"));
    const emoji = tok.encode("a 😀").slice(2); // ▁ <0xF0> <0x9F> <0x98> <0x80>
    expect(emoji).toEqual([29871, 243, 162, 155, 131]);
    expect(emoji.map((id) => d.push([id]))).toEqual([" ", "", "", "", "😀"]);
  });

  it.skipIf(!model)("holds back text that may become a stop string, and cuts at the first one", () => {
    const prompt = tok.encode("Once");
    const ids = tok.encode("Once upon a time, there was a little girl named Lily.").slice(prompt.length);
    for (const stop of [["Lily"], ["a l", "zzz"], ["time,"], ["."], ["nothing matches"]]) {
      const o = new OutputText(tok, prompt, stop);
      let text = "";
      for (const id of ids) {
        const piece = o.push(id);
        for (const s of stop) expect(`${text}${piece}`.includes(s)).toBe(false);
        text += piece;
        if (o.stopped) break;
      }
      text += o.finish();
      const full = " upon a time, there was a little girl named Lily.";
      const cut = Math.min(...stop.map((s) => (full.indexOf(s) < 0 ? full.length : full.indexOf(s))));
      expect(text, stop.join("|")).toBe(full.slice(0, cut));
      expect(outputText(tok, prompt, ids, stop)).toBe(text);
    }
  });

  it.skipIf(!model)("refuses tokenizer files that do not hash to the manifest's pin", async () => {
    const manifest = await readManifest(model!.dir);
    const files = (await readTokenizerFiles(model!.dir, manifest.tokenizer))!;
    const tampered = Uint8Array.from(files.tokenizer);
    tampered[tampered.length - 3] = tampered[tampered.length - 3]! ^ 1;
    expect(() => loadTokenizer(manifest.tokenizer, { tokenizer: tampered })).toThrow(TokenizerFileError);
    expect(() => loadTokenizer(manifest.tokenizer)).toThrow(/needs its files/);
    expect(() => tok.encodeChat([{ role: "user", content: "hi" }])).toThrow(/no chat template/);
    expect(join(model!.dir, manifest.tokenizer.type === "hf" ? manifest.tokenizer.file : "")).toMatch(/tokenizer\.json$/);
  });
});
