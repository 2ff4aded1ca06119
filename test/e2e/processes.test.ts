import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { createTestClient, http, parseEther, toHex, type Hex } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { deploySuite } from "../../scripts/lib/deploy-suite.js";
import { registerModelPackage } from "../../scripts/lib/register-model-package.js";
import { connectStepproof } from "../../protocol/chain/client.js";
import { JobStatus, stepproofContracts } from "../../protocol/chain/contracts.js";
import { stepProofGameAbi } from "../../protocol/chain/generated/abi.js";
import { encryptKeystore } from "../../protocol/node/keystore.js";
import { calibrate } from "../../runtime/calibration.js";
import { devAccount, freePort, startAnvil, type LocalChain } from "../helpers/chains.js";
import { modelDir } from "../runtime/helpers.js";

const PASSWORD = "e2e-password";
const tsx = (script: string, args: string[], env: Record<string, string> = {}) =>
  spawn(process.execPath, ["--import", "tsx", script, ...args], { env: { ...process.env, STEPPROOF_KEYSTORE_PASSWORD: PASSWORD, ...env }, stdio: ["ignore", "pipe", "pipe"] });

async function run(script: string, args: string[]): Promise<string> {
  const child = tsx(script, args);
  let out = "";
  child.stdout!.on("data", (b) => (out += b));
  child.stderr!.on("data", (b) => (out += b));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`${script} ${args.join(" ")} exited ${code}:\n${out.slice(-2000)}`);
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The demo's scenario with every party its own process on anvil (a separately written chain):
 * two prover daemons (one cheating), a verifier daemon and client CLI runs, talking only over
 * JSON-RPC and HTTP, keys from encrypted keystores.
 */
describe("end to end: separate processes on anvil", () => {
  const children: ChildProcess[] = [];
  let chain: LocalChain | undefined;
  let dir = "";
  const deploymentId = `test-${process.pid}-e2e`;

  afterAll(async () => {
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = running.map((c) => new Promise((r) => c.once("exit", r)));
    for (const c of running) c.kill("SIGTERM");
    await Promise.all(exited);
    await chain?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("serves paid jobs, catches and slashes the cheater (verifier SIGKILLed mid-dispute), settles the honest prover", async () => {
    chain = await startAnvil();
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-e2e-"));
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    const { file } = await deploySuite(conn, { deploymentsDir: dir, deploymentId });
    await conn.close();
    const gov = await connectStepproof({ rpcUrl: chain.url, deploymentFile: file, account: devAccount(0) });

    const model = await modelDir("tiny");
    await calibrate({ modelDir: model, promptTokens: [256, 72, 105, 33, 32, 116, 104, 101, 114, 101], maxNewTokens: 8, write: true });
    const manifest = await registerModelPackage(gov, model);
    const modelId = manifest.modelId as Hex;

    const keystore = async (name: string, index: number) => {
      const f = path.join(dir, `${name}.keystore.json`);
      await writeFile(f, await encryptKeystore(toHex(devAccount(index).getHdKey().privateKey!), PASSWORD, 1024));
      return f;
    };
    const proverConfig = async (name: string, index: number, corrupt?: object) => {
      const port = await freePort();
      const f = path.join(dir, `${name}.json`);
      await writeFile(f, JSON.stringify({
        chain: { rpcUrl: chain!.url, deploymentFile: file, expectedChainId: 31337 },
        keystore: await keystore(name, index),
        model: { dir: model },
        prices: { input: parseEther("0.0001").toString(), output: parseEther("0.0004").toString() },
        stake: parseEther("500").toString(),
        endpoint: { host: "127.0.0.1", port },
        traceStore: { dir: path.join(dir, name, "traces"), maxBytes: 64 * 1024 * 1024 },
        dataDir: path.join(dir, name),
        loopIntervalMs: 500,
        commitMarginSeconds: 30,
        logLevel: "warn",
        ...(corrupt ? { corrupt } : {}),
      }));
      return f;
    };
    const honestCfg = await proverConfig("honest", 1);
    const cheaterCfg = await proverConfig("cheater", 2, { layer: 2, position: 3, element: 5, delta: 0.5, everyNthJob: 2 });
    const verifierCfg = path.join(dir, "verifier.json");
    await writeFile(verifierCfg, JSON.stringify({
      chain: { rpcUrl: chain.url, deploymentFile: file, expectedChainId: 31337, confirmations: 0, maxLogRange: 100 },
      keystore: await keystore("verifier", 3),
      models: [{ dir: model }],
      sampling: { jobFraction: 1, layersPerJob: manifest.architecture.layers + 1 },
      stake: parseEther("50").toString(),
      dataDir: path.join(dir, "verifier"),
      loopIntervalMs: 500,
      logLevel: "warn",
    }));

    for (const cfg of [honestCfg, cheaterCfg]) await run("prover-node/cli.ts", ["register", "--config", cfg]);
    await run("verifier-node/cli.ts", ["register", "--config", verifierCfg]);
    for (const [script, cfg] of [["prover-node/cli.ts", honestCfg], ["prover-node/cli.ts", cheaterCfg], ["verifier-node/cli.ts", verifierCfg]] as const) {
      const child = tsx(script, ["start", "--config", cfg]);
      child.stderr!.on("data", () => {});
      child.stdout!.on("data", () => {});
      children.push(child);
    }
    const contracts = stepproofContracts(gov);
    const honest = devAccount(1).address;
    const cheater = devAccount(2).address;
    // Wait until both provers answer.
    for (const cfg of [honestCfg, cheaterCfg]) {
      const { endpoint } = JSON.parse(await readFile(cfg, "utf8")) as { endpoint: { port: number } };
      await until("prover to listen", async () => (await fetch(`http://127.0.0.1:${endpoint.port}/healthz`).then((r) => r.ok).catch(() => false)) || undefined);
    }

    const clientKeystore = await keystore("client", 4);
    const jobs: { id: bigint; prover: string }[] = [];
    for (const [i, prover] of [honest, cheater, honest, cheater].entries()) {
      const out = await run("client/cli.ts", ["run", "--rpc", chain.url, "--deployment", file, "--keystore", clientKeystore, "--model", modelId, "--model-dir", model, "--prover", prover, "--prompt", `e2e prompt ${i}`, "--max-tokens", "8", "--json"]);
      const result = JSON.parse(out.slice(out.indexOf("{"))) as { jobId: string };
      jobs.push({ id: BigInt(result.jobId), prover });
    }
    const corrupted = jobs[3]!.id; // the cheater's second job

    // SIGKILL the verifier as soon as its dispute is open (whatever move it was making), start
    // it again: it must finish the dispute from chain + SQLite, without opening a second one.
    const disputesOf = () => gov.publicClient.getContractEvents({ address: gov.deployment.contracts.stepProofGame, abi: stepProofGameAbi, eventName: "DisputeOpened", args: { jobId: corrupted }, fromBlock: 0n });
    await until("the verifier to open a dispute", async () => ((await disputesOf()).length > 0 ? true : undefined));
    const verifierProcess = children[2]!;
    verifierProcess.kill("SIGKILL");
    await new Promise((r) => verifierProcess.once("exit", r));
    const restarted = tsx("verifier-node/cli.ts", ["start", "--config", verifierCfg]);
    restarted.stdout!.on("data", () => {});
    restarted.stderr!.on("data", () => {});
    children.push(restarted);

    await until("the cheater to be slashed", async () => ((await contracts.jobEscrow.read.getJob([corrupted])).status === JobStatus.Slashed ? true : undefined));
    expect((await disputesOf()).length).toBe(1);
    const test = createTestClient({ mode: "anvil", transport: http(chain.url) });
    await test.increaseTime({ seconds: 3601 });
    await test.mine({ blocks: 1 });
    // The provers' own loops finalize their settled jobs.
    for (const j of jobs.filter((j) => j.id !== corrupted)) {
      await until(`job ${j.id} to be finalized`, async () => {
        await test.mine({ blocks: 1 });
        return (await contracts.jobEscrow.read.getJob([j.id])).status === JobStatus.Finalized ? true : undefined;
      });
    }
    // Fraud costs the job's collateral and half of the rest of the free stake, and jails (PROTOCOL §9.4).
    const [slash] = await contracts.jobEscrow.getEvents.JobSlashed({ jobId: corrupted }, { fromBlock: 0n });
    const slashed = slash!.args.slashed!;
    expect(slashed).toBeGreaterThanOrEqual(parseEther("1") + (parseEther("500") - parseEther("3")) / 2n);
    expect((await contracts.nodeRegistry.read.getNode([cheater])).stake).toBe(parseEther("500") - slashed);
    expect((await contracts.nodeRegistry.read.getNode([cheater])).jailedUntil).toBeGreaterThan(0n);
    expect((await contracts.nodeRegistry.read.getNode([honest])).stake).toBe(parseEther("500"));
    expect(await contracts.nodeRegistry.read.credits([devAccount(3).address]) + (await contracts.token.read.balanceOf([devAccount(3).address]))).toBeGreaterThan(parseEther("1000000") - parseEther("50"));
  }, 400_000);
});
