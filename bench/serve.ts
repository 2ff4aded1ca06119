/**
 * `npm run bench:serve` (PROTOCOL §4.8): serving throughput of the prover.
 *
 * Two measurements per model (the tiny synthetic model and stories15M), at 1, 2, 4, 8 and 16
 * concurrent clients, each client sending its jobs one after another (mixed prompt lengths,
 * 128 output tokens, greedy, EOS ignored by the model only where it ends a story early):
 *
 * - `path: "http"`: the prover's real HTTP API on a local Hardhat chain in a process of its own
 *   (as an operator's RPC node is, so its block execution is not on the prover's main thread;
 *   it shares the machine's cores). Every job is paid: opened
 *   and funded on-chain before the clock starts, then served over `/v1/completions` (trace to
 *   disk, result committed on-chain inside the request). A prover always traces (a job's trace
 *   root is what it commits), so these rows are `tracing: true`.
 * - `path: "batcher"`: the same continuous batcher the prover runs, driven in-process with the
 *   same request mix, tracing on and off interleaved round by round in one run;
 *   `tracingOverhead` = tok/s off ÷ tok/s on − 1 of that pair.
 *
 * - `runtime: "llama.cpp"`: the speed anchor a CPU user would pick instead — llama.cpp through
 *   node-llama-cpp 3.21.1 (its prebuilt CPU binary) on the same model converted to GGUF
 *   (bench/llamacpp/: F32 and F16 hold exactly the package's binary16 weights, Q8_0 quantizes
 *   them), single stream, greedy, the batcher's concurrency-1 jobs (same prompt ids, same 128
 *   tokens) with 1 and 2 threads, after the stepproof rows and in the same process. Each row's
 *   `ratio` is stepproof's traced single-stream tok/s (the batcher's concurrency-1 traced row)
 *   ÷ that row's, and `matchedTokens` how many of each job's tokens agree with stepproof's
 *   before the first difference. For llama2.c packages only (stories15M); where node-llama-cpp
 *   cannot load, the bench says why in one line and goes on without it.
 *
 * Rows: {model, runtime, path, concurrency, tracing, jobs, tokensPerSecond, p50Ms, p95Ms,
 * tracingOverhead} (+ traceUsPerToken and traceShare on traced batcher rows; weights, threads, ratio,
 * matchedTokens for llama.cpp); tokens are generated
 * tokens, time is wall time from the first request to the last response, latencies are per job
 * (request to response). `--quick`: the tiny model, concurrency 1 and 2, 8 output tokens, no
 * llama.cpp anchor, results in a temporary folder.
 */
import { writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { parseEther, type Hex } from "viem";
import { openJob } from "../protocol/chain/actions/openJob.js";
import { registerNode } from "../protocol/chain/actions/registerNode.js";
import { promptRoot } from "../protocol/prompt/prompt.js";
import { parseProverConfig } from "../prover-node/config.js";
import { startProverNode } from "../prover-node/node.js";
import { readManifest } from "../runtime/model/manifest.js";
import { ContinuousBatcher } from "../runtime/serve/batcher.js";
import { resolveServeSessionConfig, ServeSession } from "../runtime/serve/serve-session.js";
import { defaultThreads } from "../runtime/serve/threads.js";
import { releaseAllSessions } from "../runtime/session.js";
import { devAccount, ROLES } from "../scripts/demo/accounts.js";
import { connectAs, modelDirOf, prepareModel, startChainProcess, type DemoModel } from "../scripts/demo/setup.js";
import { ggufOf, loadLlamaCpp, matchingPrefix, runLlamaCpp, type LlamaCppHandle } from "./llamacpp/anchor.js";
import type { GgufWeights } from "./llamacpp/convert.js";
import { QUICK, resultPath } from "./quick.js";

const opts = new Command()
  .option("--quick", "tiny model, concurrency 1 and 2, few tokens; results in a temporary folder", false)
  .option("--models <list>", "comma-separated: tiny, stories15M", "tiny,stories15M")
  .option("--concurrency <list>", "comma-separated client counts", "1,2,4,8,16")
  .option("--jobs-per-client <n>", "jobs each client sends one after another", "2")
  .option("--data-dir <dir>", "where the chain, databases, traces and GGUF conversions go", ".stepproof/bench-serve")
  .option("--llamacpp <list>", "llama.cpp anchor GGUF weights, comma-separated (F32, F16, Q8_0)", "F32,F16,Q8_0")
  .option("--llamacpp-threads <list>", "llama.cpp anchor thread counts", "1,2")
  .option("--no-llamacpp", "skip the llama.cpp anchor")
  .option("--paths <list>", "comma-separated: http, batcher (the batcher rows also give the thread scaling and the llama.cpp comparison)", "http,batcher")
  .option("--spinning <on|off>", "the serving session's pool threads busy-wait between operators (default: the session's default)")
  .parse()
  .opts<{ quick: boolean; models: string; concurrency: string; jobsPerClient: string; dataDir: string; llamacpp: string | false; llamacppThreads: string; paths: string; spinning?: string }>();

if (opts.spinning !== undefined && opts.spinning !== "on" && opts.spinning !== "off") throw new Error(`--spinning must be on or off, got ${opts.spinning}`);
/** The serving session's setup for every stepproof row (threads: every core, unless a row says otherwise). */
const SERVE_SETUP = resolveServeSessionConfig(opts.spinning === undefined ? {} : { spinning: opts.spinning === "on" });

const PATHS = new Set(opts.paths.split(","));
const MODELS = (QUICK ? ["tiny"] : opts.models.split(",")) as DemoModel[];
const CONCURRENCY = QUICK ? [1, 2] : opts.concurrency.split(",").map(Number);
const JOBS_PER_CLIENT = QUICK ? 1 : Number(opts.jobsPerClient);
const OUTPUT_TOKENS = QUICK ? 8 : 128;
/** Mixed prompt lengths (tokens), cycled over the jobs. */
const PROMPT_LENGTHS = QUICK ? [3, 9] : [8, 32, 3, 64, 16, 48];
/** Low prices: committed jobs stay exposure until finalized, and the prover's stake caps it (InsufficientDeterrence). */
const PRICES = { input: parseEther("0.000001"), output: parseEther("0.000004") };

export type ServeRow = {
  model: string;
  runtime: "stepproof" | "llama.cpp";
  path: "http" | "batcher" | "node-llama-cpp";
  concurrency: number;
  tracing: boolean;
  jobs: number;
  tokensPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** batcher rows: tok/s off ÷ tok/s on − 1 measured in the same run; http rows: that of the batcher at the same concurrency. */
  tracingOverhead: number | null;
  /**
   * Traced batcher rows: the main thread's wall time in trace work (leaf hashing and the tree;
   * these rows store nothing on disk), per generated token (the prompt's positions are hashed
   * too), and that time ÷ (the level's wall time × cores). Measured inside the run, so less
   * noisy than `tracingOverhead` (an A/B of two levels); wall time, so it includes the moments
   * the forward pass's threads take the core from the hashing, and it is not a bound of
   * tracing's cost to throughput either way.
   */
  traceUsPerToken?: number;
  traceShare?: number;
  /** Intra-op threads (stepproof: the serving session's; llama.cpp: the context's). */
  threads: number;
  /** "threads": the single-stream thread-scaling pair, measured interleaved apart from the concurrency rows. */
  series?: "threads";
  /** llama.cpp rows: the GGUF's weights, stepproof traced single-stream tok/s ÷ this row's, per job the tokens agreeing with stepproof's before the first difference. */
  weights?: GgufWeights;
  ratio?: number;
  matchedTokens?: number[];
};

/** Deterministic prompt `i` (ids 3..vocab−1: no BOS/EOS/pad in the middle). */
function promptTokens(i: number, vocab: number): number[] {
  const n = PROMPT_LENGTHS[i % PROMPT_LENGTHS.length]!;
  return Array.from({ length: n }, (_, k) => 3 + ((i * 7919 + k * 104729) % (vocab - 3)));
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** `clients` closed-loop clients each running `perClient` jobs; returns tokens, wall time and per-job latencies. */
type Level = { tokens: number; ms: number; latencies: number[]; traceMs: number };

/** A job's generated tokens, and the main thread's wall time in its trace where the driver sees it (the batcher's results). */
type JobOutcome = { tokens: number; traceMs?: number };

async function drive(clients: number, perClient: number, job: (i: number) => Promise<JobOutcome>): Promise<Level> {
  const latencies: number[] = [];
  let tokens = 0;
  let traceMs = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let k = 0; k < perClient; k++) {
        const s = performance.now();
        // Not `tokens += await …`: that reads `tokens` before the await and loses the other clients' additions.
        const n = await job(c * perClient + k);
        tokens += n.tokens;
        traceMs += n.traceMs ?? 0;
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { tokens, ms: performance.now() - t0, latencies, traceMs };
}

const row = (model: string, p: ServeRow["path"], concurrency: number, tracing: boolean, r: Pick<Level, "tokens" | "ms" | "latencies">, tracingOverhead: number | null): ServeRow => ({
  model,
  runtime: p === "node-llama-cpp" ? "llama.cpp" : "stepproof",
  path: p,
  concurrency,
  tracing,
  jobs: r.latencies.length,
  tokensPerSecond: Number(((r.tokens / r.ms) * 1000).toFixed(1)),
  p50Ms: Number(quantile(r.latencies, 0.5).toFixed(0)),
  p95Ms: Number(quantile(r.latencies, 0.95).toFixed(0)),
  tracingOverhead: tracingOverhead === null ? null : Number(tracingOverhead.toFixed(4)),
  threads: SERVE_SETUP.threads,
});

const traceCost = (r: Level): Pick<ServeRow, "traceUsPerToken" | "traceShare"> => ({
  traceUsPerToken: Number(((r.traceMs / r.tokens) * 1000).toFixed(1)),
  traceShare: Number((r.traceMs / (r.ms * defaultThreads())).toFixed(4)),
});

/** The batcher alone, tracing off and on interleaved per concurrency; `outputs`: the concurrency-1 jobs' greedy tokens. */
async function batcherRows(model: string, dir: string): Promise<{ rows: ServeRow[]; outputs: number[][] }> {
  const session = await ServeSession.load(dir, SERVE_SETUP);
  const { vocab } = session.manifest.architecture;
  const batcher = new ContinuousBatcher(session, { maxBatch: Math.max(...CONCURRENCY), maxQueued: 64 });
  const rows: ServeRow[] = [];
  const run = (clients: number, trace: boolean) => drive(clients, JOBS_PER_CLIENT, (i) => serveJob(batcher, i, vocab, trace));
  await run(1, true); // warm-up
  for (const c of CONCURRENCY) {
    // off, on, off, on: each mode's better run (the other engineers' load only ever slows a run).
    const off = [await run(c, false)];
    const on = [await run(c, true)];
    off.push(await run(c, false));
    on.push(await run(c, true));
    const [o, n] = [fastest(off), fastest(on)];
    const overhead = o.tokens / o.ms / (n.tokens / n.ms) - 1;
    rows.push(row(model, "batcher", c, false, o, null), { ...row(model, "batcher", c, true, n, overhead), ...traceCost(n) });
  }
  const outputs: number[][] = [];
  for (let i = 0; i < JOBS_PER_CLIENT; i++) outputs.push((await batcher.submit({ promptTokens: promptTokens(i, vocab), maxNewTokens: OUTPUT_TOKENS, samplingParams: 0n, trace: false, stopAtEos: false })).outputTokens);
  await session.release();
  return { rows, outputs };
}

/** One greedy job of the request mix through a batcher; resolves to its output token count. */
async function serveJob(batcher: ContinuousBatcher, i: number, vocab: number, trace: boolean): Promise<JobOutcome> {
  const r = await batcher.submit({ promptTokens: promptTokens(i, vocab), maxNewTokens: OUTPUT_TOKENS, samplingParams: 0n, trace, stopAtEos: false });
  return { tokens: r.outputTokens.length, traceMs: r.timings.traceMs };
}

/** The run with the most tokens per second. */
const fastest = <R extends { tokens: number; ms: number }>(rs: R[]): R => rs.reduce((a, b) => (a.tokens / a.ms >= b.tokens / b.ms ? a : b));

/**
 * Single-stream thread scaling: one traced job at a time on a 1-thread session and on the
 * every-core session (same spinning), interleaved round by round in one run (`series: "threads"`).
 */
async function threadRows(model: string, dir: string): Promise<ServeRow[]> {
  const setups = [...new Set([1, SERVE_SETUP.threads])];
  const sessions = await Promise.all(setups.map((threads) => ServeSession.load(dir, { ...SERVE_SETUP, threads })));
  const { vocab } = sessions[0]!.manifest.architecture;
  const batchers = sessions.map((s) => new ContinuousBatcher(s, { maxBatch: 1 }));
  const runs: Level[][] = setups.map(() => []);
  for (const b of batchers) await serveJob(b, 0, vocab, true); // warm-up
  for (let round = 0; round < 3; round++) for (const [k, b] of batchers.entries()) runs[k]!.push(await drive(1, JOBS_PER_CLIENT, (i) => serveJob(b, i, vocab, true)));
  await Promise.all(sessions.map((s) => s.release()));
  return setups.map((threads, k) => ({ ...row(model, "batcher", 1, true, fastest(runs[k]!), null), threads, series: "threads" as const }));
}

/**
 * llama.cpp on the same model: the batcher's concurrency-1 jobs, one after another, per GGUF
 * weights and thread count; `stepproofTraced` is the batcher's concurrency-1 traced tok/s.
 */
async function llamaCppRows(h: LlamaCppHandle, model: string, dir: string, vocab: number, stepproof: { traced: number; outputs: number[][] }): Promise<ServeRow[]> {
  const prompts = Array.from({ length: JOBS_PER_CLIENT }, (_, i) => promptTokens(i, vocab));
  const rows: ServeRow[] = [];
  for (const weights of LLAMACPP_WEIGHTS) {
    const gguf = await ggufOf(dir, weights, path.join(dataDir, "gguf"));
    for (const threads of LLAMACPP_THREADS) {
      const r = await runLlamaCpp(h, gguf, { prompts, outputTokens: OUTPUT_TOKENS, threads, rounds: 2 });
      const base = row(model, "node-llama-cpp", 1, false, r, null);
      rows.push({ ...base, weights, threads, ratio: Number((stepproof.traced / base.tokensPerSecond).toFixed(3)), matchedTokens: r.outputs.map((o, i) => matchingPrefix(o, stepproof.outputs[i]!)) });
    }
  }
  return rows;
}

/** The prover's HTTP API on a chain in its own process: every job opened and funded before the clock starts. */
async function httpRows(model: DemoModel, dataDir: string): Promise<ServeRow[]> {
  const runDir = path.join(dataDir, `run-${process.pid}-${model}`);
  await mkdir(runDir, { recursive: true });
  const chain = await startChainProcess(runDir);
  try {
    const gov = await connectAs(chain, ROLES.governance);
    const manifest = await prepareModel(dataDir, gov, (l) => console.log(l), model);
    const modelId = manifest.modelId as Hex;
    const dir = modelDirOf(dataDir, model);
    const maxBatch = Math.max(...CONCURRENCY);
    const node = await startProverNode(
      parseProverConfig({
        chain: { rpcUrl: chain.url, deploymentFile: chain.deploymentFile },
        model: { dir },
        prices: { input: PRICES.input.toString(), output: PRICES.output.toString() },
        endpoint: { host: "127.0.0.1", port: 0 },
        traceStore: { dir: path.join(runDir, "prover", "traces"), maxBytes: 4 * 1024 ** 3 },
        dataDir: path.join(runDir, "prover"),
        // The loop would commit, finalize and withdraw beside the measured requests.
        loopIntervalMs: 3_600_000,
        commitMarginSeconds: 30,
        maxQueuedJobs: 2 * maxBatch,
        serving: { maxBatch, threads: SERVE_SETUP.threads, spinning: SERVE_SETUP.spinning },
        logLevel: "error",
      }),
      { account: devAccount(ROLES.honestProver), runLoop: false },
    );
    try {
      const prover = await connectAs(chain, ROLES.honestProver);
      await registerNode(prover, { role: "prover", stake: parseEther("500"), endpoint: node.url, offers: [{ modelId, inputPrice: PRICES.input, outputPrice: PRICES.output }] });
      await registerNode(await connectAs(chain, ROLES.verifier), { role: "verifier", stake: parseEther("50"), endpoint: "http://127.0.0.1/verifier", auditPools: [modelId] });
      const client = await connectAs(chain, ROLES.client);
      const { vocab } = manifest.architecture;
      const rows: ServeRow[] = [];
      // The first pass (one client) is a warm-up: first requests, first trace files.
      for (const [pass, c] of [1, ...CONCURRENCY].entries()) {
        const n = c * JOBS_PER_CLIENT;
        const jobs: { jobId: bigint; tokens: number[] }[] = [];
        for (let i = 0; i < n; i++) {
          const tokens = promptTokens(i, vocab);
          const { jobId } = await openJob(client, { prover: node.address, modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: OUTPUT_TOKENS });
          jobs.push({ jobId, tokens });
        }
        const r = await drive(c, JOBS_PER_CLIENT, async (i) => {
          const { jobId, tokens } = jobs[i]!;
          const res = await fetch(`${node.url}/v1/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() },
            body: JSON.stringify({ model: modelId, prompt: tokens, max_tokens: OUTPUT_TOKENS }),
          });
          const body = (await res.json()) as { usage?: { completion_tokens: number }; error?: { code: string; message: string } };
          if (!res.ok || !body.usage) throw new Error(`job ${jobId}: HTTP ${res.status} ${JSON.stringify(body.error)}`);
          return { tokens: body.usage.completion_tokens };
        });
        if (pass > 0) rows.push(row(model, "http", c, true, r, null));
      }
      return rows;
    } finally {
      await node.close();
    }
  } finally {
    await chain.stop();
    await rm(runDir, { recursive: true, force: true });
  }
}

const LLAMACPP_WEIGHTS = (opts.llamacpp === false ? [] : opts.llamacpp.split(",")) as GgufWeights[];
const LLAMACPP_THREADS = opts.llamacppThreads.split(",").map(Number);
const dataDir = QUICK ? await mkdtemp(path.join(tmpdir(), "stepproof-bench-serve-")) : path.resolve(opts.dataDir);
const rows: ServeRow[] = [];
/** The anchor's binding and version, or why there is none. */
let llamaCpp: LlamaCppHandle | { unavailable: string } | undefined;
const anchorNotes: string[] = [];
console.log(`bench:serve — ${SERVE_SETUP.threads} threads (every core), spinning ${SERVE_SETUP.spinning ? "on" : "off"}, ${OUTPUT_TOKENS} output tokens, prompts of ${PROMPT_LENGTHS.join("/")} tokens, ${JOBS_PER_CLIENT} jobs per client${QUICK ? " (quick)" : ""}`);
for (const model of MODELS) {
  // HTTP first: prepareModel fetches (stories15M) or generates (tiny) the package the batcher rows use.
  const http = PATHS.has("http") ? await httpRows(model, dataDir) : [];
  const dir = modelDirOf(dataDir, model);
  if (!PATHS.has("batcher")) {
    rows.push(...http);
    continue;
  }
  const { rows: batcher, outputs } = await batcherRows(model, dir);
  const overhead = new Map(batcher.filter((r) => r.tracing).map((r) => [r.concurrency, r.tracingOverhead]));
  rows.push(...http.map((r) => ({ ...r, tracingOverhead: overhead.get(r.concurrency) ?? null })), ...batcher, ...(await threadRows(model, dir)));
  await releaseAllSessions();
  // The anchor never fails the bench: whatever goes wrong is one line and the run goes on.
  const manifest = await readManifest(dir);
  if (QUICK || LLAMACPP_WEIGHTS.length === 0 || manifest.source.kind !== "llama2c") continue;
  const traced = batcher.find((r) => r.concurrency === 1 && r.tracing);
  try {
    llamaCpp ??= await loadLlamaCpp();
    if ("unavailable" in llamaCpp) continue;
    if (!traced) throw new Error("no concurrency-1 batcher row to compare with (--concurrency without 1)");
    rows.push(...(await llamaCppRows(llamaCpp, model, dir, manifest.architecture.vocab, { traced: traced.tokensPerSecond, outputs })));
  } catch (err) {
    anchorNotes.push(`llama.cpp anchor on ${model} failed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}`);
  }
}
if (QUICK) console.log("llama.cpp anchor: skipped in quick mode");
else if (LLAMACPP_WEIGHTS.length === 0) console.log("llama.cpp anchor: skipped (--no-llamacpp)");
else if (llamaCpp === undefined) console.log("llama.cpp anchor: no llama2.c model in this run (stories15M)");
else if ("unavailable" in llamaCpp) console.log(`llama.cpp anchor: unavailable — ${llamaCpp.unavailable}`);
for (const note of anchorNotes) console.log(note);

const file = resultPath("serve.json");
const llamaCppInfo = llamaCpp === undefined ? null : "unavailable" in llamaCpp ? { unavailable: llamaCpp.unavailable } : { version: llamaCpp.version };
writeFileSync(file, JSON.stringify({ machine: { threads: defaultThreads() }, serving: { threads: SERVE_SETUP.threads, spinning: SERVE_SETUP.spinning }, outputTokens: OUTPUT_TOKENS, promptLengths: PROMPT_LENGTHS, jobsPerClient: JOBS_PER_CLIENT, llamaCpp: llamaCppInfo, rows }, null, 2) + "\n");
console.log("\n| model | path | threads | concurrency | tracing | jobs | tok/s | p50 ms | p95 ms | tracing overhead | trace µs/token (share) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows.filter((x) => x.runtime === "stepproof")) {
  console.log(`| ${r.model} | ${r.path}${r.series ? ` (${r.series})` : ""} | ${r.threads} | ${r.concurrency} | ${r.tracing ? "on" : "off"} | ${r.jobs} | ${r.tokensPerSecond} | ${r.p50Ms} | ${r.p95Ms} | ${r.tracingOverhead === null ? "" : `${(100 * r.tracingOverhead).toFixed(2)}%`} | ${r.traceUsPerToken === undefined ? "" : `${r.traceUsPerToken} (${(100 * r.traceShare!).toFixed(2)}%)`} |`);
}
for (const model of MODELS) {
  const one = rows.find((r) => r.model === model && r.path === "http" && r.concurrency === 1);
  const eight = rows.find((r) => r.model === model && r.path === "http" && r.concurrency === 8);
  if (one && eight) console.log(`${model}: 8 concurrent = ${(eight.tokensPerSecond / one.tokensPerSecond).toFixed(2)}× a single job's tok/s (HTTP)`);
  const scaling = rows.filter((r) => r.model === model && r.series === "threads");
  const [single, every] = [scaling.find((r) => r.threads === 1), scaling.find((r) => r.threads === SERVE_SETUP.threads)];
  if (single && every && every !== single) console.log(`${model}: single stream traced, ${every.threads} threads = ${(every.tokensPerSecond / single.tokensPerSecond).toFixed(2)}× 1 thread (${every.tokensPerSecond} vs ${single.tokensPerSecond} tok/s)`);
}
const anchor = rows.filter((r) => r.runtime === "llama.cpp");
if (anchor.length > 0 && llamaCpp && !("unavailable" in llamaCpp)) {
  console.log(`\nllama.cpp anchor (${llamaCpp.version}), single stream, greedy, ${OUTPUT_TOKENS} tokens, same prompt ids:`);
  console.log("| model | weights | threads | tok/s | p50 ms | tokens equal to stepproof's | stepproof traced ÷ llama.cpp |\n| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of anchor) console.log(`| ${r.model} | ${r.weights} | ${r.threads} | ${r.tokensPerSecond} | ${r.p50Ms} | ${r.matchedTokens!.map((n) => `${n}/${OUTPUT_TOKENS}`).join(", ")} | ${r.ratio!.toFixed(2)}× |`);
  for (const model of new Set(anchor.map((r) => r.model))) {
    const traced = rows.find((r) => r.model === model && r.path === "batcher" && r.concurrency === 1 && r.tracing && !r.series)!;
    const f32 = anchor.filter((r) => r.model === model && r.weights === "F32");
    if (f32.length === 0) continue;
    const best = f32.reduce((a, b) => (a.tokensPerSecond >= b.tokensPerSecond ? a : b));
    console.log(`${model}: stepproof traced single-stream ${traced.tokensPerSecond} tok/s (${traced.threads} threads) = ${(traced.tokensPerSecond / best.tokensPerSecond).toFixed(2)}× llama.cpp F32 at its best (${best.tokensPerSecond} tok/s, ${best.threads} thread${best.threads === 1 ? "" : "s"})`);
  }
}
if (llamaCpp && !("unavailable" in llamaCpp)) await llamaCpp.llama.dispose();
console.log(`results: ${file}`);
if (QUICK) await rm(dataDir, { recursive: true, force: true });
process.exit(0);
