/**
 * npm run bench:trace -- [--models tiny,small] [--prompt N] [--new N] [--reps N] [--quick]
 *
 * Per model: tokens/s with tracing off and on (interleaved runs in one process, medians),
 * tracingOverhead = (t_on − t_off) / t_off, trace bytes per token, leaf-hashing throughput,
 * and reexecSpeedup = generation time of the positions ÷ re-execution time of one layer over
 * all of them. Prints a table, writes bench/results/trace.json.
 */
import { Command } from "commander";
import { existsSync, writeFileSync } from "node:fs";
import { QUICK, resultPath } from "./quick.js";
import { cpus } from "node:os";
import { join } from "node:path";
import { TRACE_DOMAIN } from "../protocol/commitments/index.js";
import { dtypeSize, type Dtype } from "../protocol/encoding/index.js";
import { LeafHasher } from "../runtime/commit/fast-leaf.js";
import { sharedHashPool } from "../runtime/commit/hash-pool.js";
import { generate } from "../runtime/generate.js";
import { generateBatch } from "../runtime/generate-batch.js";
import { readManifest } from "../runtime/model/manifest.js";
import { generateSyntheticModel, type PresetName } from "../runtime/model/synthetic.js";
import { reexecuteLayer } from "../runtime/reexec.js";
import { ModelSessions, releaseAllSessions } from "../runtime/session.js";

const opts = new Command()
  .option("--models <list>", "presets", "tiny,small")
  .option("--prompt <n>", "prompt tokens", "64")
  .option("--new <n>", "generated tokens", "64")
  .option("--reps <n>", "interleaved on/off pairs", "5")
  .option("--out <file>", "JSON output (default bench/results/trace.json)")
  .option("--quick", "tiny model, 8 + 4 tokens, one pair, output to a temporary folder (npm test)")
  .parse()
  .opts<{ models: string; prompt: string; new: string; reps: string; out?: string; quick?: boolean }>();
if (QUICK) Object.assign(opts, { models: "tiny", prompt: "8", new: "4", reps: "1" });
const out = opts.out ?? resultPath("trace.json");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const prompt = [256, ...Array.from({ length: Number(opts.prompt) - 1 }, (_, i) => (i * 37 + 11) % 256)];
const maxNewTokens = Number(opts.new);
const results: Record<string, unknown> = {};
const rows: Record<string, string | number>[] = [];

for (const preset of opts.models.split(",") as PresetName[]) {
  const dir = join("models", "generated", preset);
  if (!existsSync(join(dir, "manifest.json"))) await generateSyntheticModel({ preset, dir });
  const m = await readManifest(dir);
  const run = (trace: boolean) => generate({ modelDir: dir, promptTokens: prompt, maxNewTokens, samplingParams: 0n, trace, stopAtEos: false });
  await run(true); // warm-up: sessions, hash workers, JIT
  await run(false);
  const off: number[] = [];
  const on: number[] = [];
  const fraction: number[] = [];
  let last;
  for (let i = 0; i < Number(opts.reps); i++) {
    // Interleave (alternating which goes first) so background load affects both sides alike.
    const a = i % 2 === 0 ? await run(false) : undefined;
    last = await run(true);
    const b = a ?? (await run(false));
    off.push(b.timings.totalMs);
    on.push(last.timings.totalMs);
    // Time inside trace capture and commitment, as a fraction of the untraced generation time.
    fraction.push(last.timings.traceMs / (last.timings.totalMs - last.timings.traceMs));
  }
  const trace = last!.trace!;
  const N = trace.tokens.length;
  const tOff = median(off);
  const tOn = median(on);
  const size = dtypeSize(m.encoding.traceDtype as Dtype);
  const traceBytesPerToken = (m.architecture.layers + 1) * m.architecture.hidden * size + 4 + trace.layout.leavesPerPosition * 32;

  // Hashing throughput over the trace's own rows: inline (one core) and through the worker pool.
  const hasher = new LeafHasher(TRACE_DOMAIN);
  const rowBytes = m.architecture.hidden * size;
  const C = m.encoding.chunkSize * size;
  let hashed = 0;
  let t0 = performance.now();
  for (let t = 0; t < N - 1; t++) {
    for (let l = 0; l <= m.architecture.layers; l++) {
      const r = trace.row(t, l);
      const b = new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
      for (let c = 0; c < b.byteLength; c += C) hasher.leaf(l, t, c / C, b.subarray(c, c + C));
      hashed += b.byteLength;
    }
  }
  const inlineMBps = hashed / 1e6 / ((performance.now() - t0) / 1000);
  const pool = sharedHashPool();
  t0 = performance.now();
  const jobs = [];
  for (let l = 0; l <= m.architecture.layers; l++) {
    const block = new Uint8Array((N - 1) * rowBytes);
    for (let t = 0; t < N - 1; t++) {
      const r = trace.row(t, l);
      block.set(new Uint8Array(r.buffer, r.byteOffset, r.byteLength), t * rowBytes);
    }
    jobs.push(pool.leaves({ domain: TRACE_DOMAIN, tensorId: l, firstRow: 0, rows: N - 1, rowBytes, chunkBytes: C, data: block }));
  }
  await Promise.all(jobs);
  const poolMBps = hashed / 1e6 / ((performance.now() - t0) / 1000);

  // Re-execution of one (middle) layer over all N-1 positions, on the default setup.
  const layer = Math.ceil(m.architecture.layers / 2);
  const s = await ModelSessions.load(dir, {}, [layer]);
  const reexecMs: number[] = [];
  for (let i = 0; i < 3; i++) reexecMs.push((await reexecuteLayer({ sessions: s, trace, layer, thresholds: { maxAbs: Infinity, relL2: Infinity } })).ms);
  await s.release();
  const reexec = median(reexecMs);

  // Lockstep batch of 4 requests (traced), generated tokens per second over all of them.
  const batchRequests = Array.from({ length: 4 }, (_, b) => ({ promptTokens: prompt.map((x, i) => (i === 0 ? x : (x + b) % 256)), maxNewTokens, samplingParams: 0n }));
  await generateBatch({ modelDir: dir, requests: batchRequests, trace: true, stopAtEos: false });
  const batchRuns: number[] = [];
  for (let i = 0; i < 3; i++) batchRuns.push((await generateBatch({ modelDir: dir, requests: batchRequests, trace: true, stopAtEos: false })).timings.totalMs);
  const batchMs = median(batchRuns);
  const batchTokensPerSecond = (4 * maxNewTokens) / (batchMs / 1000);

  const r = {
    model: m.name,
    architecture: m.architecture,
    promptTokens: prompt.length,
    outputTokens: maxNewTokens,
    tokensPerSecondOff: (N - prompt.length) / (tOff / 1000),
    tokensPerSecondOn: (N - prompt.length) / (tOn / 1000),
    generationMsOff: tOff,
    generationMsOn: tOn,
    // Measured inside the traced runs (precise); the A/B ratio below is wall clock and carries
    // the shared machine's noise (±5% run to run here).
    tracingOverhead: median(fraction),
    tracingOverheadAB: (tOn - tOff) / tOff,
    traceBytesPerToken,
    hashingMBpsInline: inlineMBps,
    hashingMBpsWorkers: poolMBps,
    reexecLayer: layer,
    reexecMs: reexec,
    reexecSpeedup: tOff / reexec,
    batch4TokensPerSecond: batchTokensPerSecond,
    batch4Speedup: batchTokensPerSecond / (maxNewTokens / (tOn / 1000)),
    runsOff: off,
    runsOn: on,
  };
  results[preset] = r;
  rows.push({
    model: preset,
    "tok/s off": r.tokensPerSecondOff.toFixed(1),
    "tok/s on": r.tokensPerSecondOn.toFixed(1),
    overhead: `${(r.tracingOverhead * 100).toFixed(2)}%`,
    "A/B wall": `${(r.tracingOverheadAB * 100).toFixed(1)}%`,
    "bytes/token": traceBytesPerToken,
    "hash MB/s (1 thread)": inlineMBps.toFixed(1),
    "hash MB/s (pool)": poolMBps.toFixed(1),
    "reexec 1 layer ms": reexec.toFixed(1),
    reexecSpeedup: `${r.reexecSpeedup.toFixed(1)}x`,
    "batch×4 tok/s": `${r.batch4TokensPerSecond.toFixed(1)} (${r.batch4Speedup.toFixed(1)}x)`,
  });
}

console.table(rows);
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version };
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine, setup: "cpu/threads=1/opt=all/f32, greedy, inline wasm-keccak hashing", models: results }, null, 2)}\n`);
console.log(`wrote ${out}`);
await releaseAllSessions();
process.exit(0);
