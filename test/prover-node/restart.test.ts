import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex, getAbiItem } from "viem";
import { jobEscrowAbi, nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { completionPromptTokens, promptRoot } from "../../protocol/prompt/prompt.js";
import { loadTokenizer } from "../../protocol/prompt/load-tokenizer.js";
import { encryptKeystore, KEYSTORE_PASSWORD_ENV } from "../../protocol/node/keystore.js";
import { FAULT_ENV } from "../../prover-node/state/tx-sender.js";
import { devAccount } from "../helpers/chains.js";
import { IN_PRICE, proverConfigFor, startTestNetwork, type TestNetwork } from "./fixture.js";

const PASSWORD = "correct horse battery staple";
const run = promisify(execFile);

/** A prover node as its own process (the CLI), with its JSON log lines readable. */
class NodeProcess {
  readonly child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly exited: Promise<void>;

  constructor(configFile: string, fault?: string) {
    this.child = spawn(process.execPath, ["--no-warnings", "--import", "tsx", "prover-node/cli.ts", "start", "--config", configFile], {
      env: { ...process.env, [KEYSTORE_PASSWORD_ENV]: PASSWORD, ...(fault ? { [FAULT_ENV]: fault } : { [FAULT_ENV]: "" }) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = new Promise((r) => this.child.once("exit", () => r()));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => {
        this.#lines.push(line);
        for (const w of [...this.#waiters]) if (w.re.test(line)) (this.#waiters.splice(this.#waiters.indexOf(w), 1), w.resolve(line));
      });
    }
  }

  /** Resolves on the first log line matching `re` (already seen or future). */
  waitFor(re: RegExp): Promise<string> {
    const seen = this.#lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ re, resolve });
      void this.exited.then(() => reject(new Error(`node exited before logging ${re}:\n${this.#lines.join("\n")}`)));
    });
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }
}

/**
 * SIGKILL a node process in each phase of a job — mid-generation, after generation before the
 * commit is signed, after the signed commit is persisted but before it is broadcast — and
 * restart it: the job is committed once, with the persisted transaction, before its deadline.
 */
describe("a prover node killed and restarted", () => {
  let net: TestNetwork;
  let configFile: string;
  let dataDir: string;
  let running: NodeProcess | undefined;

  beforeAll(async () => {
    net = await startTestNetwork();
    const config = await proverConfigFor(net, "restart", { keystore: "keystore.json", logLevel: "info", loopIntervalMs: 500 });
    dataDir = config.dataDir;
    const base = path.join(net.dir, "restart");
    await mkdir(base, { recursive: true });
    const key = bytesToHex(devAccount(1).getHdKey().privateKey!);
    await writeFile(path.join(base, "keystore.json"), await encryptKeystore(key, PASSWORD, 1024));
    configFile = path.join(base, "config.json");
    await writeFile(configFile, JSON.stringify({ ...config, keystore: "keystore.json" }));
    // Registration through the CLI, as an operator would do it.
    const cli = (...args: string[]) => run(process.execPath, ["--no-warnings", "--import", "tsx", "prover-node/cli.ts", ...args, "--config", configFile], { env: { ...process.env, [KEYSTORE_PASSWORD_ENV]: PASSWORD } });
    expect((await cli("register")).stdout).toMatch(new RegExp(`registered prover ${devAccount(1).address}`));
    const gov = await net.as(0);
    const { nodeRegistry } = gov.deployment.contracts;
    const node = await gov.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [devAccount(1).address] });
    expect({ role: node.role, endpoint: node.endpoint, stake: node.stake }).toEqual({ role: 1, endpoint: `http://127.0.0.1:${config.endpoint!.port}`, stake: BigInt(config.stake!) });
    const offer = await gov.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getOffer", args: [devAccount(1).address, net.manifest.modelId] });
    expect(offer).toMatchObject({ active: true, inputPrice: IN_PRICE });
  });

  afterAll(async () => {
    await running?.kill();
    await net?.cleanup();
  });

  const start = async (fault?: string) => {
    running = new NodeProcess(configFile, fault);
    const line = await running.waitFor(/prover node listening/);
    return JSON.parse(line) as { url: string };
  };
  const dbRows = () => {
    const db = new DatabaseSync(path.join(dataDir, "prover.sqlite"), { readOnly: true });
    try {
      return {
        jobs: db.prepare("SELECT job_id, state, trace_root FROM jobs").all() as { job_id: string; state: string; trace_root: string | null }[],
        txs: db.prepare("SELECT hash, kind, state FROM txs").all() as { hash: string; kind: string; state: string }[],
      };
    } finally {
      db.close();
    }
  };

  it("commits exactly once after kills mid-generation, before commit and before broadcast", async () => {
    const client = await net.as(2);
    const prover = devAccount(1).address;
    const prompt = "Restart me";
    const tokens = completionPromptTokens(loadTokenizer(net.manifest.tokenizer), prompt);
    const { jobId } = await openJob(client, { prover, modelId: net.manifest.modelId, promptRoot: promptRoot(tokens), inputTokens: tokens.length, maxOutputTokens: 8 });
    const request = (url: string) =>
      fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "x-stepproof-job": jobId.toString() }, body: JSON.stringify({ model: net.manifest.modelId, prompt, max_tokens: 8 }) });

    // 1. Killed mid-generation: the job is only claimed; the client's retry is served afresh.
    let node = await start("mid-generation");
    const lost = request(node.url).catch((e: unknown) => e);
    await running!.waitFor(/fault point mid-generation/);
    expect(dbRows().jobs).toEqual([{ job_id: jobId.toString(), state: "generating", trace_root: null }]);
    await running!.kill();
    expect(await lost).toBeInstanceOf(Error);

    // 2. Killed after the result is persisted, before a commit is signed.
    node = await start("before-commit");
    const lost2 = request(node.url).catch((e: unknown) => e);
    await running!.waitFor(/fault point before-commit/);
    const generated = dbRows();
    expect(generated.jobs[0]!.state).toBe("generated");
    expect(generated.txs).toEqual([]);
    await running!.kill();
    expect(await lost2).toBeInstanceOf(Error);
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open);

    // 3. The restarted node's loop commits; killed after persisting the signed commit, before broadcasting it.
    const nonceBefore = await client.publicClient.getTransactionCount({ address: prover });
    await start("before-broadcast");
    await running!.waitFor(/fault point before-broadcast/);
    const persisted = dbRows().txs;
    expect(persisted).toEqual([{ hash: expect.stringMatching(/^0x[0-9a-f]{64}$/), kind: "commit", state: "pending" }]);
    await running!.kill();
    expect((await getJob(client, { jobId })).status).toBe(JobStatus.Open);

    // 4. A clean restart rebroadcasts the persisted bytes: the same transaction, mined once.
    await start();
    const receipt = await client.publicClient.waitForTransactionReceipt({ hash: persisted[0]!.hash as `0x${string}`, timeout: 60_000 });
    expect(receipt.status).toBe("success");
    const job = await getJob(client, { jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.traceRoot).toBe(generated.jobs[0]!.trace_root);
    expect(job.inputTokens).toBe(tokens.length);
    expect(await client.publicClient.getTransactionCount({ address: prover })).toBe(nonceBefore + 1);
    const commits = await client.publicClient.getLogs({ address: client.deployment.contracts.jobEscrow, event: getAbiItem({ abi: jobEscrowAbi, name: "ResultCommitted" }), args: { jobId }, fromBlock: 0n });
    expect(commits).toHaveLength(1);
    expect(running!.child.exitCode).toBeNull(); // the restarted node keeps serving
  });
});
