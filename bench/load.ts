/**
 * `npm run bench:load` (issue #15): paid jobs under load, end to end. An embedded Hardhat chain
 * (this process), one prover and one verifier daemon as separate processes (as
 * test/e2e/processes.test.ts starts them), and 1, 4, 8, 16 concurrent clients (each its own
 * account) running `runJob` on the tiny synthetic model. After each concurrency level the
 * verifier gets a grace period to catch up, the chain jumps past the challenge window and the
 * prover's loop settles every job; jobs the verifier never checked before they settled are
 * counted (`settledUnchecked`). Writes bench/results/load.json (`--quick`: a temp dir, small sizes).
 *
 * Per level: jobsCompleted, jobsFailed, wrongJobErrors (a result for another job than the one
 * opened: issue #15 item 1), jobsPerMinute, p50Ms, p95Ms. Overall: settledUnchecked, the prover's
 * loop pass time at the start and at the end (does it grow with history?), RSS per process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createTestClient, http, maxUint256, parseEther, toHex, type Hex } from "viem";
import { QUICK, resultPath } from "./quick.js";
import { connectAs, prepareModel, startEmbeddedChain } from "../scripts/demo/setup.js";
import { devAccount } from "../scripts/demo/accounts.js";
import { encryptKeystore } from "../protocol/node/keystore.js";
import { testTokenAbi } from "../protocol/chain/generated/abi.js";
import { sendContractTransaction } from "../protocol/chain/actions/send.js";
import { getJobs } from "../protocol/chain/actions/getJobs.js";
import { JobStatus } from "../protocol/chain/contracts.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { runJob } from "../client/run-job.js";
import { freePort } from "../test/helpers/chains.js";

const LEVELS = QUICK ? [1, 2] : (process.env["LOAD_LEVELS"] ?? "1,4,8,16").split(",").map(Number);
/** Jobs per level: 500 × 4 levels = 2,000 in full mode (LOAD_JOBS overrides, for a reduced run). */
const JOBS_PER_LEVEL = QUICK ? 2 : Number(process.env["LOAD_JOBS"] ?? 500);
const MAX_TOKENS = 8;
/** How long the verifier may catch up after a level before the window is jumped (ms). */
const VERIFIER_GRACE_MS = QUICK ? 20_000 : 120_000;
const PASSWORD = "bench-load";
const METRICS_TOKEN = "bench-load-metrics";
/** Accounts: 0 governance, 1 prover, 3 verifier, clients from 4. */
const PROVER = 1;
const VERIFIER = 3;
const FIRST_CLIENT = 4;

type LevelResult = {
  concurrency: number;
  jobsCompleted: number;
  jobsFailed: number;
  wrongJobErrors: number;
  jobsPerMinute: number;
  p50Ms: number;
  p95Ms: number;
  /** How long after the level's last job the verifier had checked them all (null: not within the grace). */
  verifierCatchUpMs: number | null;
  errors: Record<string, number>;
};

const log = (line: string) => console.log(`[load] ${line}`);
const quantile = (xs: number[], q: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!);
const rssMb = (pid: number | undefined) => {
  if (pid === undefined) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
};

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) {
      log(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const children: ChildProcess[] = [];
function daemon(script: string, args: string[], name: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, STEPPROOF_KEYSTORE_PASSWORD: PASSWORD, STEPPROOF_METRICS_TOKEN: METRICS_TOKEN }, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keep = (b: Buffer) => (tail = (tail + b.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  child.once("exit", (code, signal) => {
    if (!stopping) log(`${name} exited (${code ?? signal}); its last output:\n${tail}`);
  });
  children.push(child);
  return child;
}
let stopping = false;

async function runOnce(script: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, STEPPROOF_KEYSTORE_PASSWORD: PASSWORD }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  if (code !== 0) throw new Error(`${script} ${args.join(" ")} exited ${code}:\n${out.slice(-2000)}`);
}

async function main() {
  const dir = await mkdtemp(path.join(tmpdir(), "stepproof-load-"));
  const chain = await startEmbeddedChain(dir, 18545);
  const benchPid = process.pid;
  try {
    const gov = await connectAs(chain, 0);
    const manifest = await prepareModel(dir, gov, log, "tiny");
    const modelDir = path.join(dir, "models", "tiny");
    const modelId = manifest.modelId as Hex;

    const keystore = async (name: string, index: number) => {
      const f = path.join(dir, `${name}.keystore.json`);
      await writeFile(f, await encryptKeystore(toHex(devAccount(index).getHdKey().privateKey!), PASSWORD, 1024));
      return f;
    };
    const port = await freePort();
    const proverCfg = path.join(dir, "prover.json");
    // Stake sized by PROTOCOL §5.7's rule: every job of a level stays open until the window is
    // jumped, each locking minCollateral (1 token) — so at least JOBS_PER_LEVEL tokens, plus the
    // free stake that deters their escrow (500× for the tiny model).
    const stake = parseEther(String(Math.max(2_000, 2 * JOBS_PER_LEVEL + 100)));
    await writeFile(proverCfg, JSON.stringify({
      chain: { rpcUrl: chain.url, deploymentFile: chain.deploymentFile, expectedChainId: 31337 },
      keystore: await keystore("prover", PROVER),
      model: { dir: modelDir },
      prices: { input: "1000000000000", output: "4000000000000" },
      stake: stake.toString(),
      // Every client and the verifier connect from 127.0.0.1: lift the per-IP caps meant for the open internet.
      endpoint: { host: "127.0.0.1", port, maxConnectionsPerIp: 1024, rateLimit: { perIp: { perSecond: 1000, burst: 2000 }, perSigner: { perSecond: 200, burst: 400 }, signedPerIp: { perSecond: 200, burst: 400 } } },
      traceStore: { dir: path.join(dir, "prover", "traces"), maxBytes: 2 * 1024 * 1024 * 1024 },
      dataDir: path.join(dir, "prover"),
      loopIntervalMs: 1_000,
      commitMarginSeconds: 30,
      logLevel: "warn",
    }));
    const verifierCfg = path.join(dir, "verifier.json");
    await writeFile(verifierCfg, JSON.stringify({
      chain: { rpcUrl: chain.url, deploymentFile: chain.deploymentFile, expectedChainId: 31337, confirmations: 0 },
      keystore: await keystore("verifier", VERIFIER),
      models: [{ dir: modelDir }],
      sampling: { jobFraction: 1, layersPerJob: 1 },
      stake: parseEther("50").toString(),
      dataDir: path.join(dir, "verifier"),
      loopIntervalMs: 1_000,
      logLevel: "info",
    }));
    await runOnce("prover-node/cli.ts", ["register", "--config", proverCfg]);
    await runOnce("verifier-node/cli.ts", ["register", "--config", verifierCfg]);
    const prover = daemon("prover-node/cli.ts", ["start", "--config", proverCfg], "prover");
    const verifier = daemon("verifier-node/cli.ts", ["start", "--config", verifierCfg], "verifier");
    const url = `http://127.0.0.1:${port}`;
    await until("the prover to listen", async () => ((await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)) ? true : undefined), 120_000);

    // Clients: funded from the governance account, escrow approved once (no approve per job).
    const maxClients = Math.max(...LEVELS);
    const clients: StepproofClients[] = [];
    for (let i = 0; i < maxClients; i++) {
      const c = await connectAs(chain, FIRST_CLIENT + i);
      const token = c.deployment.contracts.token;
      await sendContractTransaction(gov, { address: token, abi: testTokenAbi, functionName: "transfer", args: [c.walletClient!.account.address, parseEther("1000")], what: "fund a bench client" });
      await sendContractTransaction(c, { address: token, abi: testTokenAbi, functionName: "approve", args: [c.deployment.contracts.jobEscrow, maxUint256], what: "approve the escrow" });
      clients.push(c);
    }

    const rss = (when: "start" | "end") => ({ [`chainAndClients_${when}`]: rssMb(benchPid), [`prover_${when}`]: rssMb(prover.pid), [`verifier_${when}`]: rssMb(verifier.pid) });
    const rssStart = rss("start");
    const passes: number[] = [];
    let slowest: Record<string, number> = {};
    const readPass = async () => {
      const text = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }).then((r) => r.text()).catch(() => "");
      const m = /^stepproof_prover_loop_last_pass_seconds (\S+)$/m.exec(text);
      if (!m || !(Number(m[1]) > 0)) return;
      const ms = Number(m[1]) * 1000;
      // The slowest pass seen, and which steps it spent its time in.
      if (passes.length === 0 || ms > Math.max(...passes)) {
        slowest = Object.fromEntries([...text.matchAll(/^stepproof_prover_loop_step_seconds\{step="([^"]+)"\} (\S+)$/gm)].map((x) => [x[1]!, Math.round(Number(x[2]) * 1000)]));
      }
      passes.push(ms);
    };
    const sampler = setInterval(() => void readPass(), 2_000);

    const test = createTestClient({ mode: "hardhat", transport: http(chain.url) });
    const results: LevelResult[] = [];
    const allJobs: bigint[] = [];
    for (const concurrency of LEVELS) {
      const latencies: number[] = [];
      const errors: Record<string, number> = {};
      let failed = 0;
      let wrong = 0;
      let next = 0;
      const jobs: bigint[] = [];
      const started = performance.now();
      const worker = async (c: StepproofClients, k: number) => {
        for (;;) {
          const n = next++;
          if (n >= JOBS_PER_LEVEL) return;
          const t0 = performance.now();
          let opened: bigint | undefined;
          try {
            const r = await runJob(c, { modelId, modelDir, prompt: { text: `load c${concurrency} w${k} #${n}` }, maxTokens: MAX_TOKENS, onJobOpened: (j) => void (opened = j.jobId) });
            if (opened !== undefined && r.jobId !== opened) wrong++;
            jobs.push(r.jobId);
            latencies.push(performance.now() - t0);
          } catch (err) {
            failed++;
            if (opened !== undefined) jobs.push(opened);
            // The first line and the details (a ClientError's reasons, e.g. each prover's refusal).
            const e = err as Error & { details?: string };
            const msg = `${e.message.split("\n")[0]!}${e.details ? ` — ${e.details}` : ""}`;
            if (/wrong job|another job|job id/i.test(msg)) wrong++;
            const key = msg.replace(/0x[0-9a-fA-F]+/g, "0x…").replace(/\d+/g, "N").slice(0, 300);
            errors[key] = (errors[key] ?? 0) + 1;
          }
        }
      };
      await Promise.all(clients.slice(0, concurrency).map((c, k) => worker(c, k)));
      const minutes = (performance.now() - started) / 60_000;
      // Let the verifier catch up (bounded), then jump the window and let the prover settle.
      const vdb = new DatabaseSync(path.join(dir, "verifier", "verifier.sqlite"), { readOnly: true });
      // Checked (or decided) by the verifier: recorded from its log and out of new/error.
      const done = vdb.prepare("SELECT COUNT(*) AS n FROM jobs WHERE job_id = ? AND state NOT IN ('new', 'error')");
      const unchecked = () => jobs.filter((id) => (done.get(id.toString()) as { n: number }).n === 0).length;
      const catchUpStarted = performance.now();
      const caughtUp = await until("the verifier to check the level's jobs", async () => (unchecked() === 0 ? true : undefined), VERIFIER_GRACE_MS);
      vdb.close();
      const r: LevelResult = {
        concurrency,
        jobsCompleted: latencies.length,
        jobsFailed: failed,
        wrongJobErrors: wrong,
        jobsPerMinute: Math.round((latencies.length / minutes) * 10) / 10,
        p50Ms: Math.round(quantile(latencies, 0.5)),
        p95Ms: Math.round(quantile(latencies, 0.95)),
        verifierCatchUpMs: caughtUp ? Math.round(performance.now() - catchUpStarted) : null,
        errors,
      };
      results.push(r);
      allJobs.push(...jobs);
      log(`concurrency ${concurrency}: ${r.jobsCompleted} done, ${r.jobsFailed} failed, ${r.jobsPerMinute} jobs/min, p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, verifier caught up ${r.verifierCatchUpMs ?? "not"} ms after${failed ? ` ${JSON.stringify(errors)}` : ""}`);
      await test.increaseTime({ seconds: 3601 });
      await test.mine({ blocks: 1 });
      await until("the prover to settle the level's jobs", async () => {
        await test.mine({ blocks: 1 });
        const onchain = await getJobs(gov, { jobIds: jobs });
        return [...onchain.values()].every((j) => j.status !== JobStatus.Committed && j.status !== JobStatus.Open) ? true : undefined;
      }, QUICK ? 60_000 : 600_000);
    }
    await readPass();
    clearInterval(sampler);
    const rssEnd = rss("end");

    // Let the verifier look at everything once more: a job it reaches after settlement is "skipped, on-chain status …".
    await new Promise((r) => setTimeout(r, 3_000));
    const vdb = new DatabaseSync(path.join(dir, "verifier", "verifier.sqlite"), { readOnly: true });
    const states = Object.fromEntries((vdb.prepare("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
    // The verifier's own count (verifier-node/node.ts), plus any still unchecked at the end.
    const settledUnchecked = (vdb.prepare("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('new', 'error') OR (state = 'skipped' AND detail LIKE 'settled unchecked%')").get() as { n: number }).n;
    vdb.close();
    const finalized = [...(await getJobs(gov, { jobIds: allJobs })).values()].filter((j) => j.status === JobStatus.Finalized).length;

    const out = {
      generatedBy: "npm run bench:load",
      quick: QUICK,
      model: "tiny (synthetic)",
      chain: "Hardhat EDR, embedded in the bench process (with the clients)",
      maxTokens: MAX_TOKENS,
      jobsPerLevel: JOBS_PER_LEVEL,
      verifierGraceMs: VERIFIER_GRACE_MS,
      levels: results,
      jobsTotal: allJobs.length,
      jobsFinalized: finalized,
      verifierStates: states,
      settledUnchecked,
      proverPassMsFirst: passes.length ? Math.round(passes[0]!) : null,
      proverPassMsLast: passes.length ? Math.round(passes.at(-1)!) : null,
      proverPassMsMax: passes.length ? Math.round(Math.max(...passes)) : null,
      proverSlowestPassStepsMs: slowest,
      rssMbStart: rssStart,
      rssMbEnd: rssEnd,
    };
    const file = resultPath("load.json");
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    console.table(results.map(({ errors: _e, ...r }) => r));
    log(`settled unchecked ${settledUnchecked} of ${allJobs.length}; prover pass ${out.proverPassMsFirst} ms first, ${out.proverPassMsLast} ms last; RSS start ${JSON.stringify(rssStart)} end ${JSON.stringify(rssEnd)}`);
    log(`wrote ${file}`);
  } finally {
    stopping = true;
    const exited = children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once("exit", r)));
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(exited);
    await chain.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
