import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { createTestClient, http, keccak256, parseEther, type Hex } from "viem";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import { deploySuite } from "../../scripts/lib/deploy-suite.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../../runtime/model/manifest.js";
import { devAccount, freePort, startAnvil, startHardhatRpc, type LocalChain } from "../helpers/chains.js";
import { modelDir as tinyModelDir } from "../runtime/helpers.js";
import type { ProverConfigInput } from "../../prover-node/config.js";

export const IN_PRICE = parseEther("0.001");
export const OUT_PRICE = parseEther("0.004");

export type TestNetwork = {
  chain: LocalChain;
  dir: string;
  deploymentFile: string;
  modelDir: string;
  manifest: ModelManifest;
  as(i: number): Promise<StepproofClients>;
  /** Advance chain time (seconds) and mine a block. */
  advance(seconds: number): Promise<void>;
  cleanup(): Promise<void>;
};

/**
 * A Hardhat JSON-RPC chain (anvil with STEPPROOF_TEST_CHAIN=anvil) with the suite deployed (Ignition, as test/chain/deploy-e2e does),
 * a model registered with its real weights root and manifest hash (the tiny model, or the package
 * at `modelDir`), and one dev account (`auditor`, default 3) in its audit pool.
 */
export async function startTestNetwork(options: { auditor?: number; modelDir?: string } = {}): Promise<TestNetwork> {
  const chain = process.env["STEPPROOF_TEST_CHAIN"] === "anvil" ? await startAnvil() : await startHardhatRpc();
  const dir = await mkdtemp(path.join(tmpdir(), "stepproof-prover-"));
  const deploymentId = `test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const conn = await network.create({ network: "localhost", override: { url: chain.url } });
  const { file } = await deploySuite(conn, { deploymentsDir: dir, deploymentId });
  await conn.close();
  const modelDir = options.modelDir ?? (await tinyModelDir("tiny"));
  const manifest = await readManifest(modelDir);
  const as = (i: number) => connectStepproof({ rpcUrl: chain.url, deploymentFile: file, account: devAccount(i), expectedChainId: 31337 });
  await registerModel(await as(0), {
    modelId: manifest.modelId,
    weightsRoot: manifest.weightsRoot,
    manifestHash: keccak256(await readFile(path.join(modelDir, MANIFEST_FILE))),
    architecture: manifest.architecture,
    encoding: manifest.encoding,
    tolerances: Array.from({ length: DEFAULT_DEPLOY_PARAMETERS.opCount }, () => ({ atol: 1n << 20n, rtol: 1n << 22n })),
  });
  // One dev account (3 unless the test's challenger is another) is the model's only audit pool
  // member: no job opens with an empty pool (PROTOCOL §9.4), and as the only possible auditor
  // the test's challenger never waits on another auditor's priority (§9.1).
  await registerNode(await as(options.auditor ?? 3), { role: "verifier", stake: parseEther("100"), endpoint: "http://127.0.0.1:8700", auditPools: [manifest.modelId as Hex] });
  const testClient = createTestClient({ mode: chain.kind, transport: http(chain.url) });
  return {
    chain,
    dir,
    deploymentFile: file,
    modelDir,
    manifest,
    as,
    async advance(seconds) {
      await testClient.increaseTime({ seconds });
      await testClient.mine({ blocks: 1 });
    },
    async cleanup() {
      await chain.stop();
      await rm(dir, { recursive: true, force: true });
      await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
    },
  };
}

/** A prover config for `net` on a free port, state under a fresh folder. */
export async function proverConfigFor(net: TestNetwork, name: string, over: Partial<ProverConfigInput> = {}): Promise<ProverConfigInput> {
  const base = path.join(net.dir, name);
  return {
    chain: { rpcUrl: net.chain.url, deploymentFile: net.deploymentFile, expectedChainId: 31337 },
    model: { dir: net.modelDir },
    prices: { input: IN_PRICE.toString(), output: OUT_PRICE.toString() },
    stake: parseEther("500").toString(),
    endpoint: { host: "127.0.0.1", port: await freePort() },
    traceStore: { dir: path.join(base, "traces"), maxBytes: 256 << 20 },
    dataDir: path.join(base, "data"),
    // Tests drive the loop with kick(); a long period keeps it out of the way.
    loopIntervalMs: 3_600_000,
    logLevel: "silent",
    ...over,
  };
}

/** Register `account` as a prover of the tiny model at `endpoint`. */
export async function registerProverOnChain(net: TestNetwork, account: number, endpoint: string, prices = { input: IN_PRICE, output: OUT_PRICE }): Promise<void> {
  await registerNode(await net.as(account), { role: "prover", stake: parseEther("500"), endpoint, offers: [{ modelId: net.manifest.modelId as Hex, inputPrice: prices.input, outputPrice: prices.output }] });
}

/**
 * Run a node's loop every 300 ms until `p` settles (a client waiting for its batch, say), since
 * test nodes start with their loop off: what the client waits for happens in the loop.
 */
export async function kickUntil<T>(node: { loop: { kick(): Promise<unknown> } }, p: Promise<T>): Promise<T> {
  let settled = false;
  const r = p.finally(() => (settled = true));
  while (!settled) {
    await node.loop.kick();
    await new Promise((res) => setTimeout(res, 300));
  }
  return r;
}
