/**
 * npm run devnet [-- start]                    a Hardhat JSON-RPC dev chain (chain 31337) at STEPPROOF_RPC_URL, else 127.0.0.1:8545
 * npm run devnet -- fund <keystore|address...> gas money and payment tokens from dev account 0
 * npm run devnet -- advance <duration>         move the chain's clock (1h, 30m, 90s, 2d) and mine a block
 *
 * The dev chain's clock only moves with its blocks: `advance` is how a trial run gets past a
 * challenge window (1 h by default, PROTOCOL §5.3) to settlement without waiting an hour.
 */
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Command } from "commander";
import { createTestClient, formatEther, getAddress, http, isAddress, parseEther, publicActions, walletActions, type Address } from "viem";
import { testTokenAbi } from "../protocol/chain/generated/abi.js";
import { deploymentPath, readDeployment } from "../protocol/chain/deployments.js";
import { StepproofError } from "../protocol/errors.js";
import { defaultRpcUrl } from "../protocol/node/chain-defaults.js";
import { runCli } from "../protocol/node/cli-errors.js";
import { keystoreAddress } from "../protocol/node/keys-command.js";
import { devAccount } from "./demo/accounts.js";

class DevnetError extends StepproofError {
  override name = "DevnetError";
}

/** Chain id of Hardhat's and anvil's dev chains: `fund` and `advance` refuse any other. */
const DEV_CHAIN_ID = 31337;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "1h", "30m", "90s", "2d", "1h30m" or plain seconds, in seconds. */
function parseDuration(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new DevnetError(`not a duration: ${text}`, { details: "write it like 1h, 30m, 90s, 2d or 1h30m" });
  return parts.reduce((s, p) => s + Number(p[1]) * UNITS[p[2]!]!, 0);
}

async function devClient(rpc?: string) {
  const url = defaultRpcUrl(rpc);
  const client = createTestClient({ mode: "hardhat", transport: http(url), account: devAccount(0) }).extend(publicActions).extend(walletActions);
  const chainId = await client.getChainId().catch((cause: unknown) => {
    throw new DevnetError(`no dev chain answers at ${url}`, { details: "start one with `npm run devnet` (and deploy with `npm run deploy -- --network localhost`)", cause });
  });
  if (chainId !== DEV_CHAIN_ID) throw new DevnetError(`${url} serves chain ${chainId}, not a dev chain (${DEV_CHAIN_ID})`, { details: "devnet commands move clocks and money only on a local chain" });
  return client;
}

const program = new Command().name("devnet").description("a local dev chain, and the shortcuts a trial run needs on it");

program
  .command("start", { isDefault: true })
  .description("run a Hardhat JSON-RPC dev chain (chain 31337, ten funded dev accounts) until Ctrl-C")
  .option("--rpc <url>", "where to listen (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .action(async (o: { rpc?: string }) => {
    const url = new URL(defaultRpcUrl(o.rpc));
    const hardhat = path.resolve("node_modules", ".bin", "hardhat");
    const child = spawn(hardhat, ["node", "--hostname", url.hostname, "--port", url.port || "8545"], { stdio: "inherit" });
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
    const code = await new Promise<number>((resolve, reject) => {
      child.once("error", (cause) => reject(new DevnetError(`cannot start ${hardhat}`, { details: "run `npm install` first", cause })));
      child.once("exit", (c, signal) => resolve(c ?? (signal ? 0 : 1)));
    });
    process.exitCode = code;
  });

program
  .command("fund")
  .description("send gas money and payment tokens from dev account 0 to each account (a keystore file's address, or an address)")
  .argument("<accounts...>", "keystore files or addresses")
  .option("--eth <n>", "native currency for gas", "10")
  .option("--tokens <n>", "payment tokens (the deployment's test token)", "10000")
  .option("--rpc <url>", "dev chain (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default deployments/31337.json)")
  .action(async (accounts: string[], o: { eth: string; tokens: string; rpc?: string; deployment?: string }) => {
    const client = await devClient(o.rpc);
    const deployment = await readDeployment(o.deployment ?? deploymentPath(DEV_CHAIN_ID), DEV_CHAIN_ID);
    const token = deployment.contracts.token;
    for (const a of accounts) {
      if (!isAddress(a) && !(await stat(a).catch(() => undefined))) throw new DevnetError(`${a} is neither an address nor a keystore file`);
      const to: Address = isAddress(a) ? getAddress(a) : await keystoreAddress(a);
      await client.waitForTransactionReceipt({ hash: await client.sendTransaction({ to, value: parseEther(o.eth), chain: null }) });
      await client.waitForTransactionReceipt({ hash: await client.writeContract({ address: token, abi: testTokenAbi, functionName: "transfer", args: [to, parseEther(o.tokens)], chain: null }) });
      const balance = await client.readContract({ address: token, abi: testTokenAbi, functionName: "balanceOf", args: [to] });
      console.log(`funded ${to}: ${o.eth} ETH, ${o.tokens} tokens (now holds ${formatEther(balance)})`);
    }
  });

program
  .command("advance")
  .description("move the dev chain's clock forward and mine a block (past a challenge window: `advance 1h`)")
  .argument("<duration>", "1h, 30m, 90s, 2d, 1h30m or seconds")
  .option("--rpc <url>", "dev chain (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .action(async (duration: string, o: { rpc?: string }) => {
    const seconds = parseDuration(duration);
    const client = await devClient(o.rpc);
    await client.increaseTime({ seconds });
    await client.mine({ blocks: 1 });
    const block = await client.getBlock();
    console.log(`advanced ${seconds} s: block ${block.number} at ${new Date(Number(block.timestamp) * 1000).toISOString()}`);
  });

await runCli(() => program.parseAsync());
