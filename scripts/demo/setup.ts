import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { network } from "hardhat";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { calibrate } from "../../runtime/calibration.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../../runtime/model/manifest.js";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
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
  const url = `http://127.0.0.1:${port}`;
  const conn = await network.create({ network: "localhost", override: { url } });
  // The chain lives only as long as this process, so its Ignition journal goes with it.
  const deploymentId = `demo-${process.pid}`;
  const { file } = await deploySuite(conn, { deploymentsDir: path.join(dataDir, "deployments"), deploymentId });
  await conn.close();
  return {
    url,
    deploymentFile: file,
    stop: async () => {
      await server.close();
      await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
    },
  };
}

/**
 * The tiny model package, generated deterministically on first use and calibrated (layer
 * thresholds in the manifest), then registered with PROTOCOL §6.5's tolerances.
 */
export async function prepareModel(dataDir: string, gov: StepproofClients, log: (l: string) => void): Promise<ModelManifest> {
  const dir = path.join(dataDir, "models", "tiny");
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

export const modelDirOf = (dataDir: string) => path.join(dataDir, "models", "tiny");

export async function connectAs(chain: DemoChain, index: number): Promise<StepproofClients> {
  return connectStepproof({ rpcUrl: chain.url, deploymentFile: chain.deploymentFile, account: devAccount(index) });
}
