/**
 * bench:serve's speed anchor: llama.cpp (node-llama-cpp 3.21.1, its prebuilt CPU binary) on the
 * same model, machine and prompt ids, single stream, greedy — what a CPU user would run instead.
 *
 * Never downloads or builds anything (`build: "never"`, `gpu: false`): where the prebuilt binary
 * does not load, `loadLlamaCpp` says why and the bench goes on without the anchor.
 */
import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import path from "node:path";
import { readManifest } from "../../runtime/model/manifest.js";
import { packageToGguf, type GgufWeights } from "./convert.js";

type NodeLlamaCpp = typeof import("node-llama-cpp");
type Llama = Awaited<ReturnType<NodeLlamaCpp["getLlama"]>>;

export type LlamaCppHandle = { llama: Llama; version: string };

/** The llama.cpp binding, or the one-line reason it cannot run here. */
export async function loadLlamaCpp(): Promise<LlamaCppHandle | { unavailable: string }> {
  let mod: NodeLlamaCpp;
  try {
    mod = await import("node-llama-cpp");
  } catch (err) {
    return { unavailable: `node-llama-cpp is not installed (${firstLine(err)})` };
  }
  try {
    // maxThreads 0: a context's `threads` is then exactly the number of threads it uses.
    const llama = await mod.getLlama({ gpu: false, build: "never", maxThreads: 0, logLevel: mod.LlamaLogLevel.error, progressLogs: false });
    return { llama, version: `node-llama-cpp ${await packageVersion()}, llama.cpp ${llama.llamaCppRelease.release}` };
  } catch (err) {
    return { unavailable: `node-llama-cpp's prebuilt CPU binary does not load (${firstLine(err)}); nothing is built or downloaded for the bench` };
  }
}

async function packageVersion(): Promise<string> {
  try {
    // The package's exports map hides package.json from require(): read it beside its entry point.
    const { createRequire } = await import("node:module");
    const { readFile } = await import("node:fs/promises");
    const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
    return (JSON.parse(await readFile(path.join(path.dirname(entry), "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);

/**
 * The GGUF of a fetched llama2.c package (models/<name>) in `weights`, converted once into
 * `cacheDir` (named by the package's weights root) and reused.
 */
export async function ggufOf(modelDir: string, weights: GgufWeights, cacheDir: string): Promise<string> {
  const m = await readManifest(modelDir);
  // fetch-model keeps the verified llama2.c sources in <models>/.cache/<name>/.
  const tokenizerBin = path.join(path.dirname(path.resolve(modelDir)), ".cache", m.name, "tokenizer.bin");
  const file = path.join(cacheDir, `${m.name}-${m.weightsRoot.slice(2, 14)}.${weights.toLowerCase()}.gguf`);
  if (existsSync(file)) return file;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await packageToGguf({ modelDir, tokenizerBin, out: tmp, weights });
  await rename(tmp, file);
  return file;
}

export type AnchorResult = {
  /** Wall time of each job, from handing llama.cpp the prompt to its `outputTokens`-th token (prompt processing included). */
  latencies: number[];
  tokens: number;
  ms: number;
  /** Each job's generated ids. */
  outputs: number[][];
};

/**
 * Greedy single-stream generation of `outputTokens` tokens after each prompt (ids as given, no
 * BOS added, end-of-generation tokens do not stop it — as the stepproof rows), one job after the
 * other on one context of `threads` threads: `rounds` passes over the prompts after one warm-up
 * job; the fastest pass counts (other work on the machine only ever slows a pass).
 */
export async function runLlamaCpp(h: LlamaCppHandle, gguf: string, p: { prompts: number[][]; outputTokens: number; threads: number; rounds: number }): Promise<AnchorResult> {
  const model = await h.llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
  try {
    const contextSize = Math.max(...p.prompts.map((x) => x.length)) + p.outputTokens + 1;
    const context = await model.createContext({ contextSize, batchSize: contextSize, threads: p.threads, sequences: 1 });
    try {
      const seq = context.getSequence();
      const job = async (prompt: number[]) => {
        await seq.clearHistory();
        const out: number[] = [];
        const t0 = performance.now();
        // temperature 0: greedy (node-llama-cpp's default; no repeat penalty unless asked for).
        for await (const t of seq.evaluate(prompt as never[], { temperature: 0, yieldEogToken: true })) {
          out.push(t as number);
          if (out.length >= p.outputTokens) break;
        }
        return { ms: performance.now() - t0, out };
      };
      await job(p.prompts[0]!);
      let best: AnchorResult | undefined;
      for (let r = 0; r < p.rounds; r++) {
        const pass: AnchorResult = { latencies: [], tokens: 0, ms: 0, outputs: [] };
        for (const prompt of p.prompts) {
          const { ms, out } = await job(prompt);
          pass.latencies.push(ms);
          pass.ms += ms;
          pass.tokens += out.length;
          pass.outputs.push(out);
        }
        if (!best || pass.tokens / pass.ms > best.tokens / best.ms) best = pass;
      }
      return best!;
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** Length of the common prefix of two id sequences. */
export function matchingPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
