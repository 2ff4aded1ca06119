#!/usr/bin/env -S npx tsx
/**
 * stepproof-prover init|start|register|stake|unbond|decline|status --config <file>
 * The key comes from the config's encrypted JSON keystore; the password from
 * STEPPROOF_KEYSTORE_PASSWORD or a prompt (`status` needs none). Nothing secret is printed.
 */
import { Command } from "commander";
import { addKeysCommand, readOnlyAddress } from "../protocol/node/keys-command.js";
import path from "node:path";
import { formatEther, parseEther, type Hex } from "viem";
import { auditManagerAbi, modelRegistryAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { declineJob } from "../protocol/chain/actions/declineJob.js";
import { registerNode } from "../protocol/chain/actions/registerNode.js";
import { stakeMore } from "../protocol/chain/actions/stakeMore.js";
import { unbond } from "../protocol/chain/actions/unbond.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { defaultRpcUrl } from "../protocol/node/chain-defaults.js";
import { ask } from "../protocol/node/ask.js";
import { runCli } from "../protocol/node/cli-errors.js";
import { readManifest } from "../runtime/model/manifest.js";
import { loadProverConfig, type ProverConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { initProver } from "./init.js";
import { proverAccount, startProverNode } from "./node.js";
import { formatProverStatus, readProverStatus } from "./status.js";

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
    const modelId = manifest.modelId as Hex;
    // Checked before anything is sent: staking and then failing on the offer leaves a half-registered node.
    const known = await clients.publicClient.readContract({ address: clients.deployment.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "isRegistered", args: [modelId] });
    if (!known) throw new ConfigError(`model ${modelId} (${config.model.dir}) is not registered on chain ${clients.chain.id}`, { details: `a holder of REGISTRAR_ROLE registers it first: npm run model:register -- ${path.relative(process.cwd(), config.model.dir) || "."} --keystore <registrar keystore>` });
    const endpoint = config.endpoint.publicUrl ?? `http://${config.endpoint.host}:${config.endpoint.port}`;
    await registerNode(clients, { role: "prover", stake: config.stake, endpoint, offers: [{ modelId, inputPrice: config.prices.input, outputPrice: config.prices.output }] });
    const node = await clients.publicClient.readContract({ address: clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [clients.walletClient!.account.address] });
    console.log(`registered prover ${clients.walletClient!.account.address} at ${endpoint}: stake ${formatEther(node.stake)}, model ${modelId} at ${formatEther(config.prices.input)} per prompt token and ${formatEther(config.prices.output)} per generated token`);
    const pool = await clients.publicClient.readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "poolOf", args: [modelId] });
    if (!pool.some((m) => m.leftBlock === 0)) console.log("note: no verifier is in this model's audit pool yet: clients cannot open jobs until one joins (`npm run verifier -- register`)");
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
  .description("stake, offer, exposure and its limit, jail, the protocol's detection probability, earnings (earned, pending, credits, withdrawn, slashed) and the node's jobs; needs no password")
  .requiredOption("--config <file>", "prover config (JSON)")
  .option("--address <address>", "the prover to report on (default: the address field of the config's keystore)")
  .option("--json", "machine-readable output")
  .action(async (o: { config: string; address?: string; json?: boolean }) => {
    const config = await loadProverConfig(o.config);
    const address = await readOnlyAddress(o.address, config.keystore, (m) => new ConfigError(m));
    const status = await readProverStatus(config, address);
    console.log(o.json ? JSON.stringify(status) : formatProverStatus(status));
  });

program
  .command("init")
  .description("create a prover config and (if absent) a new encrypted keystore, after checking the RPC, the deployment and the model package; prints the next commands")
  .option("--model <dir>", "model package directory (asked on a terminal; default models/generated/tiny)")
  .option("--config <file>", "config file to write", "prover.json")
  .option("--keystore <file>", "keystore to use, created with a new key if absent (password from STEPPROOF_KEYSTORE_PASSWORD or a prompt)", "keys/prover.json")
  .option("--rpc <url>", "JSON-RPC URL (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default deployments/<chainId>.json)")
  .option("--host <host>", "interface the API listens on", "127.0.0.1")
  .option("--port <n>", "API port", "8600")
  .option("--public-url <url>", "URL published on-chain for clients (default http://host:port)")
  .option("--stake <tokens>", "stake to register with", "500")
  .option("--input-price <tokens>", "price per prompt token", "0.001")
  .option("--output-price <tokens>", "price per generated token", "0.004")
  .option("--data-dir <dir>", "node database and traces", "data/prover")
  .option("--trace-gb <n>", "disk budget for traces (GB)", "10")
  .option("--force", "replace an existing config")
  .action(async (o: { model?: string; config: string; keystore: string; rpc?: string; deployment?: string; host: string; port: string; publicUrl?: string; stake: string; inputPrice: string; outputPrice: string; dataDir: string; traceGb: string; force?: boolean }) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be 0..65535, got ${o.port}`);
    const traceGb = Number(o.traceGb);
    if (!(traceGb > 0)) throw new ConfigError(`--trace-gb must be positive, got ${o.traceGb}`);
    const r = await initProver({
      config: o.config,
      keystore: o.keystore,
      model: o.model ?? (await ask("model package directory", "models/generated/tiny")),
      rpcUrl: defaultRpcUrl(o.rpc),
      ...(o.deployment ? { deploymentFile: o.deployment } : {}),
      host: o.host,
      port,
      ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
      stake: o.stake,
      inputPrice: o.inputPrice,
      outputPrice: o.outputPrice,
      dataDir: o.dataDir,
      traceBytes: Math.round(traceGb * 1e9),
      force: o.force ?? false,
    });
    console.log(`prover ${r.address} (${r.keystoreCreated ? `new key in ${o.keystore}` : `key from ${o.keystore}`}) on chain ${r.chainId}: wrote ${o.config}`);
    for (const n of r.notes) console.log(`note: ${n}`);
    console.log(`next:\n${r.next.map((c) => `  ${c}`).join("\n")}`);
  });

addKeysCommand(program);

await runCli(() => program.parseAsync());
