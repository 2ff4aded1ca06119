/**
 * npm run model:register -- <model dir> (--keystore <file> | --dev) [--rpc URL] [--deployment FILE]
 * Register a model package on-chain as it is on disk (PROTOCOL §4.1, §6.5): its id, weights
 * root, manifest hash and tolerances. Needs REGISTRAR_ROLE (the deployer holds it; on a dev chain
 * that is dev account 0, which `--dev` signs with). Idempotent: an identical registration is a
 * no-op; prints the model id either way. Calibrate first: calibration rewrites the manifest.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { keccak256, type Hex } from "viem";
import { modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { StepproofError } from "../protocol/errors.js";
import { defaultRpcUrl } from "../protocol/node/chain-defaults.js";
import { runCli } from "../protocol/node/cli-errors.js";
import { loadKeystoreAccount } from "../protocol/node/keystore.js";
import { MANIFEST_FILE, readManifest } from "../runtime/model/manifest.js";
import { devAccount } from "./demo/accounts.js";
import { registerModelPackage } from "./lib/register-model-package.js";

class RegisterModelError extends StepproofError {
  override name = "RegisterModelError";
}

/** Chain id of `npm run devnet` and anvil, the only chain `--dev` signs on. */
const DEV_CHAIN_ID = 31337;

const program = new Command()
  .name("model:register")
  .argument("<dir>", "model package directory (calibrated)")
  .option("--keystore <file>", "keystore of an account with REGISTRAR_ROLE (password from STEPPROOF_KEYSTORE_PASSWORD or a prompt)")
  .option("--dev", `sign with the dev chain's account 0, the deployer there (chain ${DEV_CHAIN_ID} only)`)
  .option("--rpc <url>", "JSON-RPC URL (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default deployments/<chainId>.json)")
  .action(async (dir: string, o: { keystore?: string; dev?: boolean; rpc?: string; deployment?: string }) => {
    if (!o.keystore === !o.dev) throw new RegisterModelError("give --keystore <file> (an account with REGISTRAR_ROLE) or, on a dev chain, --dev");
    const manifest = await readManifest(dir).catch((cause: unknown) => {
      throw new RegisterModelError(`no model package at ${dir}`, { details: "get one first: npm run model:fetch -- stories15M, npm run model:generate -- --preset tiny, or npm run model:import", cause });
    });
    if (!manifest.thresholds) throw new RegisterModelError(`${dir} is not calibrated`, { details: `run \`npm run calibrate -- --model ${dir}\` first: calibration rewrites the manifest, whose hash the registration pins` });
    const account = o.dev ? devAccount(0) : await loadKeystoreAccount(o.keystore!);
    const clients = await connectStepproof({ rpcUrl: defaultRpcUrl(o.rpc), account, ...(o.deployment ? { deploymentFile: o.deployment } : {}) });
    if (o.dev && clients.chain.id !== DEV_CHAIN_ID) throw new RegisterModelError(`--dev signs only on chain ${DEV_CHAIN_ID}, this is chain ${clients.chain.id}`, { details: "give --keystore <file> of an account with REGISTRAR_ROLE" });
    const modelId = manifest.modelId as Hex;
    const registry = clients.deployment.contracts.modelRegistry;
    const manifestHash = keccak256(await readFile(path.join(dir, MANIFEST_FILE)));
    if (await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "isRegistered", args: [modelId] })) {
      const model = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
      // Registrations are immutable: the same id with another manifest is refused by every client.
      if (model.manifestHash !== manifestHash) throw new RegisterModelError(`model ${modelId} is registered with manifest ${model.manifestHash}, not this package's ${manifestHash}`, { details: "registrations are immutable: use the registered package, or give this one a new model id" });
      console.log(`model ${manifest.name} is already registered on chain ${clients.chain.id}`);
    } else {
      await registerModelPackage(clients, dir);
      console.log(`registered model ${manifest.name} on chain ${clients.chain.id}`);
    }
    console.log(modelId);
  });

await runCli(() => program.parseAsync());
