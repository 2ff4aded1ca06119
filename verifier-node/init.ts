import path from "node:path";
import { parseEther, type Address } from "viem";
import { assertConfigAbsent, checkChain, checkModelPackage, DEV_CHAIN_IDS, ensureKeystore, InitError, modelNotes, relativeToConfig, writeConfigFile } from "../node-common/init.js";
import { parseVerifierConfig, type VerifierConfigInput } from "./config.js";

export type VerifierInitParameters = {
  /** Config file to write (refused if it exists, unless `force`). */
  config: string;
  /** Keystore: used if it exists, else created with a new random key. */
  keystore: string;
  /** Model package directories whose audit pools `register` joins. */
  models: string[];
  rpcUrl: string;
  /** Default: deployments/<chainId>.json. */
  deploymentFile?: string;
  /** URL published on-chain (a verifier serves no API; where its operator is reached). */
  publicUrl: string;
  /** Whole tokens, as typed ("50"). */
  stake: string;
  /** Voluntary checks on top of the protocol's audits (PROTOCOL §8). */
  jobFraction: number;
  layersPerJob: number;
  dataDir: string;
  force: boolean;
};

export type VerifierInitReturnType = { address: Address; keystoreCreated: boolean; chainId: number; notes: string[]; next: string[] };

/**
 * `stepproof-verifier init`: check every model package, the RPC and the deployment, create the
 * keystore if there is none, write a validated config, and say what comes next. Nothing is
 * written before every check passed; an existing config is never replaced without `force`.
 */
export async function initVerifier(p: VerifierInitParameters): Promise<VerifierInitReturnType> {
  await assertConfigAbsent(p.config, p.force);
  if (!/^\d+(\.\d+)?$/.test(p.stake)) throw new InitError(`--stake must be a token amount like 50, got ${p.stake}`);
  if (p.models.length === 0) throw new InitError("give at least one --model <dir>");
  const { clients, deploymentFile } = await checkChain(p.rpcUrl, p.deploymentFile);
  const notes: string[] = [];
  for (const dir of p.models) notes.push(...modelNotes(await checkModelPackage(clients, dir), dir));
  const dev = DEV_CHAIN_IDS.has(clients.chain.id);
  const rel = (f: string) => relativeToConfig(p.config, f);
  const input: VerifierConfigInput = {
    // A dev chain mines only when asked and never reorgs: act on a commitment at once.
    chain: { rpcUrl: p.rpcUrl, deploymentFile: rel(deploymentFile), expectedChainId: clients.chain.id, ...(dev ? { confirmations: 0 } : {}) },
    keystore: rel(p.keystore),
    models: p.models.map((dir) => ({ dir: rel(dir) })),
    sampling: { jobFraction: p.jobFraction, layersPerJob: p.layersPerJob },
    audit: { mode: "honest" },
    stake: parseEther(p.stake).toString(),
    endpoint: { publicUrl: p.publicUrl },
    dataDir: rel(p.dataDir),
    ...(dev ? { loopIntervalMs: 2_000 } : {}),
  };
  // Validate exactly what will be written, with the config's own schema, before writing anything.
  parseVerifierConfig(input, path.dirname(path.resolve(p.config)));
  const { address, created } = await ensureKeystore(p.keystore);
  await writeConfigFile(p.config, input);
  const fund = dev ? `npm run devnet -- fund ${p.keystore}` : `# send ${address} gas money and ${p.stake} payment tokens plus the audit bond (10 by default)`;
  return {
    address,
    keystoreCreated: created,
    chainId: clients.chain.id,
    notes,
    next: [fund, `npm run verifier -- register --config ${p.config}`, `npm run verifier -- start --config ${p.config}`, `npm run verifier -- status --config ${p.config}`],
  };
}
