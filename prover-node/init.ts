import path from "node:path";
import { parseEther, type Address } from "viem";
import { assertConfigAbsent, checkChain, checkModelPackage, DEV_CHAIN_IDS, ensureKeystore, modelNotes, relativeToConfig, writeConfigFile, InitError } from "../node-common/init.js";
import { parseProverConfig, type ProverConfigInput } from "./config.js";

export type ProverInitParameters = {
  /** Config file to write (refused if it exists, unless `force`). */
  config: string;
  /** Keystore: used if it exists, else created with a new random key. */
  keystore: string;
  /** Model package directory. */
  model: string;
  rpcUrl: string;
  /** Default: deployments/<chainId>.json. */
  deploymentFile?: string;
  host: string;
  port: number;
  publicUrl?: string;
  /** Whole tokens, as typed ("500"). */
  stake: string;
  inputPrice: string;
  outputPrice: string;
  dataDir: string;
  /** Trace store budget in bytes. */
  traceBytes: number;
  force: boolean;
};

export type ProverInitReturnType = { address: Address; keystoreCreated: boolean; chainId: number; notes: string[]; next: string[] };

const tokens = (flag: string, v: string) => {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new InitError(`${flag} must be a token amount like 0.001, got ${v}`);
  return parseEther(v).toString();
};

/**
 * `stepproof-prover init`: check the model package, the RPC and the deployment, create the
 * keystore if there is none, write a validated config, and say what comes next. Everything is
 * checked before anything is written; an existing config is never replaced without `force`.
 */
export async function initProver(p: ProverInitParameters): Promise<ProverInitReturnType> {
  await assertConfigAbsent(p.config, p.force);
  const { clients, deploymentFile } = await checkChain(p.rpcUrl, p.deploymentFile);
  const model = await checkModelPackage(clients, p.model);
  const dev = DEV_CHAIN_IDS.has(clients.chain.id);
  const rel = (f: string) => relativeToConfig(p.config, f);
  const input: ProverConfigInput = {
    chain: { rpcUrl: p.rpcUrl, deploymentFile: rel(deploymentFile), expectedChainId: clients.chain.id },
    keystore: rel(p.keystore),
    model: { dir: rel(p.model), executionProvider: "cpu" },
    prices: { input: tokens("--input-price", p.inputPrice), output: tokens("--output-price", p.outputPrice) },
    stake: tokens("--stake", p.stake),
    endpoint: { host: p.host, port: p.port, ...(p.publicUrl ? { publicUrl: p.publicUrl } : {}) },
    traceStore: { dir: rel(path.join(p.dataDir, "traces")), maxBytes: p.traceBytes },
    dataDir: rel(p.dataDir),
    // A dev chain mines only when asked: a short loop commits and settles without a wait.
    ...(dev ? { loopIntervalMs: 2_000 } : {}),
  };
  // Validate exactly what will be written, with the config's own schema, before writing anything.
  parseProverConfig(input, path.dirname(path.resolve(p.config)));
  const { address, created } = await ensureKeystore(p.keystore);
  await writeConfigFile(p.config, input);
  const fund = dev ? `npm run devnet -- fund ${p.keystore}` : `# send ${address} gas money and ${p.stake} payment tokens for the stake`;
  return {
    address,
    keystoreCreated: created,
    chainId: clients.chain.id,
    notes: modelNotes(model, p.model),
    next: [fund, `npm run prover -- register --config ${p.config}`, `npm run prover -- start --config ${p.config}`, `npm run prover -- status --config ${p.config}`],
  };
}
