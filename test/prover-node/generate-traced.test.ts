import { describe, expect, it } from "vitest";
import { floatToHalfBits, halfBitsToFloat } from "../../protocol/encoding/index.js";
import { generate } from "../../runtime/generate.js";
import { readManifest } from "../../runtime/model/manifest.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { generateTraced } from "../../prover-node/generation/generate-traced.js";
import { modelDir } from "../runtime/helpers.js";

const PROMPT = [256, 72, 101, 108, 108, 111, 33];

describe("the prover's traced generation", () => {
  it.each([
    ["greedy", 0n],
    ["temperature 0.8 (Gumbel-max)", encodeSamplingParams({ temperature: 0.8, seed: 7n })],
  ])("without corruption equals runtime generate() (%s): same tokens, same trace root", async (_name, samplingParams) => {
    const dir = await modelDir("tiny");
    const streamed: number[] = [];
    const ours = await generateTraced({ modelDir: dir, promptTokens: PROMPT, maxNewTokens: 12, samplingParams, onToken: (t) => void streamed.push(t) });
    const ref = await generate({ modelDir: dir, promptTokens: PROMPT, maxNewTokens: 12, samplingParams, trace: true });
    expect(ours.corrupted).toBe(false);
    expect(ours.outputTokens).toEqual(ref.outputTokens);
    expect(streamed).toEqual(ref.outputTokens);
    expect(ours.trace.root).toBe(ref.trace!.root);
  });

  it.each([
    ["in the prompt (prefill)", 3],
    ["in a generated position", PROMPT.length + 2],
  ])("corrupts exactly one element of h[t][l] %s, before hashing, and continues from it", async (_name, position) => {
    const dir = await modelDir("tiny");
    const { architecture: arch } = await readManifest(dir);
    const layer = 2;
    const element = 5;
    const delta = 0.75;
    const honest = await generateTraced({ modelDir: dir, promptTokens: PROMPT, maxNewTokens: 8, samplingParams: 0n });
    const cheat = await generateTraced({ modelDir: dir, promptTokens: PROMPT, maxNewTokens: 8, samplingParams: 0n, corrupt: { layer, position, element, delta } });
    expect(cheat.corrupted).toBe(true);
    expect(cheat.trace.root).not.toBe(honest.trace.root);
    const row = (g: typeof honest, t: number, l: number) => Array.from(g.trace.hiddenRow(t, l));
    // Everything computed before the corrupted step is identical.
    for (let t = 0; t < position; t++) for (let l = 0; l <= arch.layers; l++) expect(row(cheat, t, l)).toEqual(row(honest, t, l));
    for (let l = 0; l < layer; l++) expect(row(cheat, position, l)).toEqual(row(honest, position, l));
    // The corrupted row differs from the honest one in exactly the chosen element, by delta (in fp16).
    const h = row(honest, position, layer);
    const c = row(cheat, position, layer);
    const differing = c.map((v, i) => (v !== h[i] ? i : -1)).filter((i) => i >= 0);
    expect(differing).toEqual([element]);
    expect(c[element]).toBe(floatToHalfBits(halfBitsToFloat(h[element]!) + delta));
    // Generation continued from the perturbed state: the next layer's input is the corrupted row.
    expect(row(cheat, position, layer + 1)).not.toEqual(row(honest, position, layer + 1));
  });
});
