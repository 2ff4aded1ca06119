/**
 * What `stepproof-prover init` and `stepproof-verifier init` share: check the model package,
 * the RPC and the deployment before anything is written, create the keystore only if there is
 * none, and write the config only where no file is (issue #13, operators).
 */
import { randomBytes } from "node:crypto";
import { readFile, stat, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { keccak256, type Address, type Hex } from "viem";
import { modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import { connectStepproof, type StepproofClients } from "../protocol/chain/client.js";
import { deploymentPath } from "../protocol/chain/deployments.js";
import { StepproofError } from "../protocol/errors.js";
import { keystoreAddress, writeKeystoreFile } from "../protocol/node/keys-command.js";
import { readKeystorePassword } from "../protocol/node/keystore.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../runtime/model/manifest.js";

export class InitError extends StepproofError {
  override name = "InitError";
}

/** Chain ids of development chains, where init writes dev-friendly settings and suggests `devnet fund`. */
export const DEV_CHAIN_IDS = new Set([31337]);

export type ModelCheck = {
  manifest: ModelManifest;
  calibrated: boolean;
  /** A seeded synthetic model (`model:generate`): its text is noise. */
  synthetic: boolean;
  /** Whether the package's manifest is the registered one (`unregistered`: not yet; `mismatch`: another manifest, e.g. calibrated after registering). */
  registration: "registered" | "unregistered" | "mismatch";
};

/** The model package is there, parses, and how it stands against the chain's registry. */
export async function checkModelPackage(clients: StepproofClients, dir: string): Promise<ModelCheck> {
  const manifest = await readManifest(dir).catch((cause: unknown) => {
    throw new InitError(`no model package at ${dir}`, { details: "get one first: `npm run model:generate -- --preset tiny`, `npm run model:fetch -- stories15M` or `npm run model:import -- <checkpoint>`", cause });
  });
  const registry = clients.deployment.contracts.modelRegistry;
  const registered = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "isRegistered", args: [manifest.modelId as Hex] });
  let registration: ModelCheck["registration"] = "unregistered";
  if (registered) {
    const model = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "getModel", args: [manifest.modelId as Hex] });
    registration = keccak256(await readFile(path.join(dir, MANIFEST_FILE))) === model.manifestHash ? "registered" : "mismatch";
  }
  return { manifest, calibrated: manifest.thresholds !== undefined, synthetic: manifest.source.kind === "generated", registration };
}

/** Connect read-only: the RPC answers, the deployment file is for its chain and its contracts exist. */
export async function checkChain(rpcUrl: string, deploymentFile?: string): Promise<{ clients: StepproofClients; deploymentFile: string }> {
  const clients = await connectStepproof({ rpcUrl, ...(deploymentFile ? { deploymentFile } : {}) });
  return { clients, deploymentFile: deploymentFile ?? deploymentPath(clients.chain.id) };
}

/**
 * The keystore at `file`: its address if it exists (no password needed), else a new random key
 * encrypted with the password from STEPPROOF_KEYSTORE_PASSWORD or a prompt (typed twice).
 */
export async function ensureKeystore(file: string): Promise<{ address: Address; created: boolean }> {
  if (await stat(file).catch(() => undefined)) return { address: await keystoreAddress(file), created: false };
  const address = await writeKeystoreFile(file, `0x${randomBytes(32).toString("hex")}`, await readKeystorePassword({ confirm: true }));
  return { address, created: true };
}

/** Refuse to replace an existing config unless `force`: an operator's edits are never lost to a rerun. */
export async function assertConfigAbsent(file: string, force: boolean): Promise<void> {
  if (!force && (await stat(file).catch(() => undefined))) throw new InitError(`${file} exists`, { details: "edit it, pass --config <other file>, or --force to replace it" });
}

/** Write the config (already validated by the caller) as readable JSON. */
export async function writeConfigFile(file: string, config: object): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** `p` as the config at `configFile` must spell it: relative to the config's folder (configs resolve paths there). */
export function relativeToConfig(configFile: string, p: string): string {
  const rel = path.relative(path.dirname(path.resolve(configFile)), path.resolve(p));
  return rel === "" ? "." : rel;
}

/** The lines init prints about the model: what is missing before the node can work. */
export function modelNotes(check: ModelCheck, dir: string): string[] {
  const notes: string[] = [];
  if (!check.calibrated) notes.push(`model ${dir} is not calibrated: run \`npm run calibrate -- --model ${dir}\` before registering it (calibration rewrites the manifest)`);
  if (check.registration === "unregistered") notes.push(`model ${check.manifest.modelId} is not registered on this chain yet: \`npm run model:register -- ${dir} --keystore <registrar keystore>\` (on a dev chain \`--dev\` signs as the deployer)`);
  if (check.registration === "mismatch") notes.push(`model ${check.manifest.modelId} is registered with another manifest (calibrated after registering?): clients will refuse this package; use the registered one or register a new model id`);
  if (check.synthetic) notes.push(`model ${check.manifest.name} is synthetic (random weights): its text is noise that every verifier re-derives, not language`);
  return notes;
}
