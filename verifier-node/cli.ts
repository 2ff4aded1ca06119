#!/usr/bin/env -S npx tsx
/**
 * stepproof-verifier init|start|register|unbond|status --config <file>
 * The key comes from the config's encrypted JSON keystore; the password from
 * STEPPROOF_KEYSTORE_PASSWORD or a prompt (`status` needs none). Nothing secret is printed.
 */
import { Command } from "commander";
import { formatEther, parseEther } from "viem";
import { addKeysCommand, readOnlyAddress } from "../protocol/node/keys-command.js";
import { registerNode } from "../protocol/chain/actions/registerNode.js";
import { unbond } from "../protocol/chain/actions/unbond.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { auditManagerAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { ask } from "../protocol/node/ask.js";
import { defaultRpcUrl } from "../protocol/node/chain-defaults.js";
import { runCli } from "../protocol/node/cli-errors.js";
import { readManifest } from "../runtime/model/manifest.js";
import { loadVerifierConfig, VerifierConfigError, type VerifierConfig } from "./config.js";
import { initVerifier } from "./init.js";
import { startVerifierNode, verifierAccount } from "./start.js";
import { readVerifierStatus } from "./status.js";

const program = new Command().name("stepproof-verifier").description("stepproof verifier node");

async function connect(config: VerifierConfig) {
  const account = await verifierAccount(config);
  return connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, account, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}) });
}

program
  .command("start")
  .description("follow commitments, sample, re-execute, dispute what is provably wrong")
  .requiredOption("--config <file>", "verifier config (JSON)")
  .action(async (o: { config: string }) => {
    const running = await startVerifierNode(await loadVerifierConfig(o.config));
    const stop = async () => {
      await running.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

program
  .command("register")
  .description("register as a verifier with the config's stake and endpoint (idempotent)")
  .requiredOption("--config <file>", "verifier config (JSON)")
  .action(async (o: { config: string }) => {
    const config = await loadVerifierConfig(o.config);
    if (config.stake === undefined) throw new VerifierConfigError("set `stake` (base units) in the config to register");
    const clients = await connect(config);
    const models = await Promise.all(config.models.map(async (m) => (await readManifest(m.dir)).modelId as `0x${string}`));
    await registerNode(clients, { role: "verifier", stake: config.stake, endpoint: config.endpoint, auditPools: models });
    const me = clients.walletClient!.account.address;
    const node = await clients.publicClient.readContract({ address: clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [me] });
    const auditor = await clients.publicClient.readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "getAuditor", args: [me] });
    console.log(`registered verifier ${me}: stake ${formatEther(node.stake)}, audit bond ${formatEther(auditor.bond)} locked; in the audit pools of ${models.join(", ")}`);
  });

program
  .command("unbond")
  .description("start unbonding free stake, or withdraw what finished unbonding")
  .requiredOption("--config <file>", "verifier config (JSON)")
  .option("--amount <tokens>", "tokens to start unbonding, e.g. 10")
  .option("--withdraw", "withdraw what finished unbonding")
  .action(async (o: { config: string; amount?: string; withdraw?: boolean }) => {
    if (!o.amount === !o.withdraw) throw new VerifierConfigError("give exactly one of --amount <tokens> or --withdraw");
    if (o.amount && !/^\d+(\.\d+)?$/.test(o.amount)) throw new VerifierConfigError(`not a token amount: ${o.amount}`);
    const clients = await connect(await loadVerifierConfig(o.config));
    if (o.amount) await unbond(clients, { action: "request", amount: parseEther(o.amount) });
    else await unbond(clients, { action: "withdraw" });
    console.log(o.amount ? `unbonding ${o.amount}` : "withdrew unbonded stake");
  });

program
  .command("status")
  .description("stake, audit bond and pools, checked jobs and audits by state, audit pay and rewards, the protocol's and the policy's detection probability; needs no password")
  .requiredOption("--config <file>", "verifier config (JSON)")
  .option("--address <address>", "the verifier to report on (default: the address field of the config's keystore)")
  .action(async (o: { config: string; address?: string }) => {
    const config = await loadVerifierConfig(o.config);
    const address = await readOnlyAddress(o.address, config.keystore, (m) => new VerifierConfigError(m));
    console.log(JSON.stringify(await readVerifierStatus(config, address), null, 2));
  });

program
  .command("init")
  .description("create a verifier config and (if absent) a new encrypted keystore, after checking the RPC, the deployment and the model packages; prints the next commands")
  .option("--model <dir...>", "model package directories to audit (asked on a terminal; default models/generated/tiny)")
  .option("--config <file>", "config file to write", "verifier.json")
  .option("--keystore <file>", "keystore to use, created with a new key if absent (password from STEPPROOF_KEYSTORE_PASSWORD or a prompt)", "keys/verifier.json")
  .option("--rpc <url>", "JSON-RPC URL (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default deployments/<chainId>.json)")
  .option("--public-url <url>", "URL published on-chain, where you can be reached", "http://127.0.0.1:8700")
  .option("--stake <tokens>", "stake to register with (the audit bond is locked from it)", "50")
  .option("--job-fraction <f>", "share of all committed jobs to check on top of the assigned audits, (0, 1]", "0.25")
  .option("--layers-per-job <n>", "boundaries re-executed per voluntarily checked job", "2")
  .option("--data-dir <dir>", "node state", "data/verifier")
  .option("--force", "replace an existing config")
  .action(async (o: { model?: string[]; config: string; keystore: string; rpc?: string; deployment?: string; publicUrl: string; stake: string; jobFraction: string; layersPerJob: string; dataDir: string; force?: boolean }) => {
    const r = await initVerifier({
      config: o.config,
      keystore: o.keystore,
      models: o.model ?? [await ask("model package directory", "models/generated/tiny")],
      rpcUrl: defaultRpcUrl(o.rpc),
      ...(o.deployment ? { deploymentFile: o.deployment } : {}),
      publicUrl: o.publicUrl,
      stake: o.stake,
      jobFraction: Number(o.jobFraction),
      layersPerJob: Number(o.layersPerJob),
      dataDir: o.dataDir,
      force: o.force ?? false,
    });
    console.log(`verifier ${r.address} (${r.keystoreCreated ? `new key in ${o.keystore}` : `key from ${o.keystore}`}) on chain ${r.chainId}: wrote ${o.config}`);
    for (const n of r.notes) console.log(`note: ${n}`);
    console.log(`next:\n${r.next.map((c) => `  ${c}`).join("\n")}`);
  });

addKeysCommand(program);

await runCli(() => program.parseAsync());
