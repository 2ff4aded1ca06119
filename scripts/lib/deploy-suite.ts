import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import type { NetworkConnection } from "hardhat/types/network";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import { formatEther, getAddress, isAddress, type Address } from "viem";
import { StepproofError } from "../../protocol/errors.js";
import { deploymentPath, readDeployment, writeDeployment, type Deployment } from "../../protocol/chain/deployments.js";
import { StepproofLocalModule, StepproofModule } from "../../ignition/modules/Stepproof.js";

/** Chain ids of development chains (Hardhat, anvil): they get a test token and funded accounts. */
export const LOCAL_CHAIN_IDS = new Set([31337]);

export class DeployError extends StepproofError {
  override name = "DeployError";
}

export type DeploySuiteParameters = {
  /** Where deployments/<chainId>.json goes. */
  deploymentsDir?: string;
  /** Ignition parameters for the module (e.g. { Stepproof: { paymentToken } }). */
  parameters?: DeploymentParameters;
  /**
   * Ignition's folder (the config's `paths.ignition`), where Ignition journals under
   * deployments/<deploymentId>; default `ignition` under the working directory. It must be the
   * folder Ignition uses, or a restarted dev chain goes unnoticed and nothing is deployed.
   */
  ignitionDir?: string;
  /** Ignition deployment id (its journal folder); default `chain-<chainId>`. */
  deploymentId?: string;
  log?: (line: string) => void;
};

export type DeploySuiteReturnType = { deployment: Deployment; file: string; alreadyDeployed: boolean };

/**
 * Deploy (or resume, or recognise) the whole suite on the connection's chain with Ignition and
 * write deployments/<chainId>.json. Ignition journals every step, so an interrupted deploy
 * resumes where it stopped instead of leaving contracts half-wired.
 */
export async function deploySuite(conn: NetworkConnection, params: DeploySuiteParameters = {}): Promise<DeploySuiteReturnType> {
  const log = params.log ?? (() => {});
  let publicClient: Awaited<ReturnType<NetworkConnection["viem"]["getPublicClient"]>>;
  let chainId: number;
  try {
    publicClient = await conn.viem.getPublicClient();
    chainId = await publicClient.getChainId();
  } catch (cause) {
    throw new DeployError(`Cannot reach network "${conn.networkName}".`, {
      details: "Is the chain running? `npm run devnet` starts a local one.",
      cause,
    });
  }
  let wallets;
  try {
    wallets = await conn.viem.getWalletClients();
  } catch (cause) {
    throw new DeployError(`No deployer key for network "${conn.networkName}".`, {
      details: "Set it with `npx hardhat keystore set <VARIABLE>` or the environment variable the network config names.",
      cause,
    });
  }
  const deployer = wallets[0];
  if (!deployer) throw new DeployError(`Network "${conn.networkName}" has no accounts configured.`);
  const balance = await publicClient.getBalance({ address: deployer.account.address });
  if (balance === 0n) {
    throw new DeployError(`Insufficient funds: deployer ${deployer.account.address} has 0 ETH on chain ${chainId}.`, {
      details: "Fund the account before deploying; nothing was sent.",
    });
  }

  const local = LOCAL_CHAIN_IDS.has(chainId);
  const deploymentsDir = params.deploymentsDir ?? "deployments";
  const file = deploymentPath(chainId, deploymentsDir);
  const deploymentId = params.deploymentId ?? `chain-${chainId}`;
  const journal = path.join(params.ignitionDir ?? "ignition", "deployments", deploymentId);
  const journaled = await journaledAddresses(journal);
  let alreadyDeployed = false;
  if (journaled.length > 0) {
    const codes = await Promise.all(journaled.map((address) => publicClient.getCode({ address })));
    if (codes.every((code) => code && code !== "0x")) {
      alreadyDeployed = existsSync(file);
      log(`Ignition journal ${journal} found; only missing steps will run.`);
    } else if (local) {
      // A restarted dev chain forgot everything: the journal describes contracts that are gone.
      log(`Chain ${chainId} no longer has the journaled contracts (restarted dev chain); deploying afresh.`);
      await rm(journal, { recursive: true, force: true });
    } else {
      throw new DeployError(`The Ignition journal ${journal} names contracts that chain ${chainId} does not have.`, {
        details: "Wrong network for this journal? Check the RPC URL; delete the journal only if you are sure.",
      });
    }
  }

  const startBlock = Number(await publicClient.getBlockNumber());
  log(`Deploying to ${conn.networkName} (chain ${chainId}) from ${deployer.account.address} (${formatEther(balance)} ETH)`);
  if (!local && !params.parameters?.["Stepproof"]?.["paymentToken"]) {
    throw new DeployError(`Network "${conn.networkName}" (chain ${chainId}) needs a payment token.`, {
      details: `Put {"Stepproof": {"paymentToken": "0x..."}} in ignition/parameters/${conn.networkName}.json.`,
    });
  }
  let addresses: { token: string; models: string; nodes: string; escrow: string; game: string; availability: string; audits: string; vouchers: string; court: string; publication: string };
  try {
    const options = { parameters: params.parameters ?? {}, deploymentId, displayUi: false };
    const r = local ? await conn.ignition.deploy(StepproofLocalModule, options) : await conn.ignition.deploy(StepproofModule, options);
    addresses = { token: r.token.address, models: r.models.address, nodes: r.nodes.address, escrow: r.escrow.address, game: r.game.address, availability: r.availability.address, audits: r.audits.address, vouchers: r.vouchers.address, court: r.court.address, publication: r.publication.address };
  } catch (cause) {
    throw new DeployError(`Deployment to chain ${chainId} failed.`, {
      details: `Ignition journals each step under ${journal}; rerun the same command to resume.`,
      cause,
    });
  }

  const previous = alreadyDeployed ? await readDeployment(file).catch(() => undefined) : undefined;
  const deployment: Deployment = {
    chainId,
    startBlock: previous?.startBlock ?? startBlock,
    deployedAt: previous?.deployedAt ?? new Date().toISOString(),
    contracts: {
      token: getAddress(addresses.token),
      modelRegistry: getAddress(addresses.models),
      nodeRegistry: getAddress(addresses.nodes),
      jobEscrow: getAddress(addresses.escrow),
      stepProofGame: getAddress(addresses.game),
      traceAvailability: getAddress(addresses.availability),
      auditManager: getAddress(addresses.audits),
      voucherEscrow: getAddress(addresses.vouchers),
      batchCourt: getAddress(addresses.court),
      voucherPublication: getAddress(addresses.publication),
    },
  };
  await writeDeployment(file, deployment);
  log(`Wrote ${file}`);
  return { deployment, file, alreadyDeployed };
}

/** Ignition parameters for a network from ignition/parameters/<network>.json, if present. */
export async function readNetworkParameters(networkName: string): Promise<DeploymentParameters | undefined> {
  const file = path.join("ignition", "parameters", `${networkName}.json`);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (cause) {
    throw new DeployError(`Ignition parameters file ${file} is not valid JSON.`, { cause });
  }
}

async function journaledAddresses(journalDir: string): Promise<Address[]> {
  const file = path.join(journalDir, "deployed_addresses.json");
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
  return Object.values(parsed).filter((a): a is Address => isAddress(a));
}
