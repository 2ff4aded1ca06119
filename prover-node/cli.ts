#!/usr/bin/env -S npx tsx
/**
 * stepproof-prover start|register|stake|unbond|decline|status --config <file>
 * The key comes from the config's encrypted JSON keystore; the password from
 * STEPPROOF_KEYSTORE_PASSWORD or a prompt. Nothing secret is printed.
 */
import { Command } from "commander";
import { addKeysCommand } from "../protocol/node/keys-command.js";
import { formatEther, parseEther } from "viem";
import { auditManagerAbi, nodeRegistryAbi, jobEscrowAbi } from "../protocol/chain/generated/abi.js";
import { readDetectionProbability } from "../protocol/chain/actions/audits.js";
import { declineJob } from "../protocol/chain/actions/declineJob.js";
import { registerNode } from "../protocol/chain/actions/registerNode.js";
import { stakeMore } from "../protocol/chain/actions/stakeMore.js";
import { unbond } from "../protocol/chain/actions/unbond.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { StepproofError } from "../protocol/errors.js";
import { readManifest } from "../runtime/model/manifest.js";
import { loadProverConfig, type ProverConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { proverAccount, startProverNode } from "./node.js";
import { readProverCapacity } from "../protocol/chain/actions/readProverCapacity.js";
import { ProverDb } from "./state/db.js";

const program = new Command().name("stepproof-prover").description("stepproof prover node");

async function connect(config: ProverConfig) {
  const account = await proverAccount(config);
  return connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, account, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}) });
}

/** Amounts on the command line are whole tokens with decimals ("100", "0.5"), like the README. */
const tokens = (v: string) => {
  if (!/^\d+(\.\d+)?$/.test(v)) throw new ConfigError(`not a token amount: ${v}`);
  return parseEther(v);
};

program
  .command("start")
  .description("serve the OpenAI-compatible API and run the commit/finalize/withdraw loop")
  .requiredOption("--config <file>", "prover config (JSON)")
  .action(async (o: { config: string }) => {
    const node = await startProverNode(await loadProverConfig(o.config));
    const stop = async () => {
      await node.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

program
  .command("register")
  .description("register as a prover with the config's stake, endpoint and prices (idempotent)")
  .requiredOption("--config <file>", "prover config (JSON)")
  .action(async (o: { config: string }) => {
    const config = await loadProverConfig(o.config);
    if (config.stake === undefined) throw new ConfigError("set `stake` (base units) in the config to register");
    const manifest = await readManifest(config.model.dir);
    const clients = await connect(config);
    const endpoint = config.endpoint.publicUrl ?? `http://${config.endpoint.host}:${config.endpoint.port}`;
    await registerNode(clients, { role: "prover", stake: config.stake, endpoint, offers: [{ modelId: manifest.modelId, inputPrice: config.prices.input, outputPrice: config.prices.output }] });
    console.log(`registered ${clients.walletClient!.account.address} at ${endpoint} for model ${manifest.modelId}`);
  });

program
  .command("stake")
  .description("add stake")
  .requiredOption("--config <file>", "prover config (JSON)")
  .requiredOption("--amount <tokens>", "tokens to add, e.g. 100")
  .action(async (o: { config: string; amount: string }) => {
    await stakeMore(await connect(await loadProverConfig(o.config)), { amount: tokens(o.amount) });
    console.log(`staked ${o.amount} more`);
  });

program
  .command("unbond")
  .description("start unbonding free stake, or withdraw stake that finished unbonding")
  .requiredOption("--config <file>", "prover config (JSON)")
  .option("--amount <tokens>", "tokens to start unbonding")
  .option("--withdraw", "withdraw what finished unbonding")
  .action(async (o: { config: string; amount?: string; withdraw?: boolean }) => {
    if (!!o.amount === !!o.withdraw) throw new ConfigError("give exactly one of --amount or --withdraw");
    const clients = await connect(await loadProverConfig(o.config));
    await unbond(clients, o.amount ? { action: "request", amount: tokens(o.amount) } : { action: "withdraw" });
    console.log(o.amount ? `unbonding ${o.amount}` : "withdrew unbonded stake");
  });

program
  .command("decline")
  .description("decline an open job this prover cannot serve: the client is refunded, no penalty (PROTOCOL §5.3)")
  .requiredOption("--config <file>", "prover config (JSON)")
  .requiredOption("--job <id>", "job id")
  .action(async (o: { config: string; job: string }) => {
    if (!/^[1-9]\d*$/.test(o.job)) throw new ConfigError(`not a job id: ${o.job}`);
    const { hash } = await declineJob(await connect(await loadProverConfig(o.config)), { jobId: BigInt(o.job) });
    console.log(`declined job ${o.job} (${hash})`);
  });

program
  .command("status")
  .description("stake, offer, credits, exposure and its limit, the protocol's detection probability and the node's jobs")
  .requiredOption("--config <file>", "prover config (JSON)")
  .option("--json", "machine-readable output")
  .action(async (o: { config: string; json?: boolean }) => {
    const config = await loadProverConfig(o.config);
    const clients = await connect(config);
    const me = clients.walletClient!.account.address;
    const { nodeRegistry, jobEscrow } = clients.deployment.contracts;
    const manifest = await readManifest(config.model.dir);
    const node = await clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [me] });
    const offer = await clients.publicClient.readContract({ address: nodeRegistry, abi: nodeRegistryAbi, functionName: "getOffer", args: [me, manifest.modelId] });
    const escrowCredits = await clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "credits", args: [me] });
    const exposure = await clients.publicClient.readContract({ address: jobEscrow, abi: jobEscrowAbi, functionName: "exposure", args: [me] });
    const free = node.stake - node.locked;
    // PROTOCOL §9.4: the escrow of open jobs this stake deters cheating on (reverts with no auditors).
    const exposureLimit = await clients.publicClient
      .readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "exposureLimit", args: [manifest.modelId, free] })
      .catch(() => null);
    // What caps new jobs now (PROTOCOL §5.7): free stake for collateral, and the escrow it deters.
    const capacity = await readProverCapacity(clients, { prover: me, modelId: manifest.modelId as `0x${string}` });
    const db = new ProverDb(config.dataDir);
    const jobs = db.countByState();
    const lastTickBlock = db.getCursor("lastTickBlock") ?? null;
    db.close();
    const status = {
      address: me,
      registered: node.role === 1,
      endpoint: node.endpoint,
      stake: formatEther(node.stake),
      locked: formatEther(node.locked),
      freeStake: formatEther(free),
      maxJobEscrow: capacity.maxJobEscrow === 0n ? "0: no job fits until open jobs settle or more is staked (PROTOCOL §5.7)" : formatEther(capacity.maxJobEscrow),
      unbonding: formatEther(node.unbonding),
      unbondingReadyAt: node.unbondingReadyAt ? new Date(Number(node.unbondingReadyAt) * 1000).toISOString() : null,
      jailedUntil: node.jailedUntil ? new Date(Number(node.jailedUntil) * 1000).toISOString() : null,
      exposure: formatEther(exposure),
      exposureLimit: exposureLimit === null ? "no auditors in the model's pool: no job can open" : formatEther(exposureLimit),
      // PROTOCOL §9.1: the protocol's probability of catching one corrupted step of a job.
      detectionProbability: await readDetectionProbability(clients, manifest.modelId),
      model: manifest.modelId,
      offer: offer.active ? { inputPrice: offer.inputPrice.toString(), outputPrice: offer.outputPrice.toString() } : null,
      credits: formatEther(escrowCredits),
      jobs,
      lastTickBlock,
    };
    console.log(o.json ? JSON.stringify(status) : Object.entries(status).map(([k, v]) => `${k.padEnd(17)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join("\n"));
  });

addKeysCommand(program);

try {
  await program.parseAsync();
} catch (err) {
  // Typed errors print their short message and details; nothing secret is in either.
  console.error(err instanceof StepproofError ? `error: ${err.message}` : err);
  process.exit(1);
}
