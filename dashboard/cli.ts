#!/usr/bin/env -S npx tsx
/**
 * npm run dashboard -- --rpc URL --deployment FILE [--port 8090] [--host 127.0.0.1]
 * npm run dashboard -- --node-config prover.json      (the chain a node's config names)
 *
 * A read-only web page over a stepproof deployment: provers, jobs, disputes, verifiers, balances
 * and fees, with charts, kept live from the chain's logs and the nodes' endpoints. The page is
 * served at once; until the chain answers with the deployment, it (and the log) says why not.
 */
import { Command, InvalidArgumentError } from "commander";
import { StepproofError } from "../protocol/errors.js";
import { readNodeChainSettings } from "./config.js";
import { startDashboard } from "./start.js";

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

const o = new Command()
  .name("stepproof-dashboard")
  .description("serve a read-only dashboard of a stepproof deployment")
  .option("--node-config <file>", "take the chain settings (RPC, deployment, chain id, confirmations, log range) from a prover's or verifier's config")
  .option("--rpc <url>", "JSON-RPC URL (env STEPPROOF_RPC_URL)")
  .option("--deployment <file>", "deployments/<chainId>.json (env STEPPROOF_DEPLOYMENT)")
  .option("--chain-id <id>", "refuse any other chain", int("--chain-id"))
  .option("--host <host>", "listen address (loopback unless you mean to publish it)", "127.0.0.1")
  .option("--port <port>", "listen port (0: any free port)", int("--port"), 8090)
  .option("--poll-ms <ms>", "how often the chain head is polled", int("--poll-ms"), 2000)
  .option("--max-log-range <blocks>", "blocks per eth_getLogs request (default 2000)", int("--max-log-range"))
  .option("--confirmations <n>", "index only blocks this deep (default 0)", int("--confirmations"))
  .option("--db <file>", "indexer database (default .stepproof/dashboard/<chainId>.sqlite)")
  .option("--no-probe-nodes", "do not contact the endpoints provers registered on-chain")
  .parse()
  .opts<{ nodeConfig?: string; rpc?: string; deployment?: string; chainId?: number; host: string; port: number; pollMs: number; maxLogRange?: number; confirmations?: number; probeNodes: boolean; db?: string }>();

const log = (line: string) => console.error(`dashboard: ${line}`);
try {
  // Flags win over the node config, which wins over the environment.
  const node = o.nodeConfig ? await readNodeChainSettings(o.nodeConfig) : undefined;
  const rpcUrl = o.rpc ?? node?.rpcUrl ?? process.env["STEPPROOF_RPC_URL"];
  const deploymentFile = o.deployment ?? node?.deploymentFile ?? process.env["STEPPROOF_DEPLOYMENT"];
  if (!rpcUrl || !deploymentFile) throw new StepproofError("give --rpc and --deployment, or --node-config (or STEPPROOF_RPC_URL and STEPPROOF_DEPLOYMENT)");
  const expectedChainId = o.chainId ?? node?.expectedChainId;
  const maxLogRange = o.maxLogRange ?? node?.maxLogRange;
  const confirmations = o.confirmations ?? node?.confirmations;
  const dashboard = await startDashboard(
    {
      rpcUrl,
      deploymentFile,
      ...(expectedChainId ? { expectedChainId } : {}),
      ...(maxLogRange !== undefined ? { maxLogRange } : {}),
      ...(confirmations !== undefined ? { confirmations } : {}),
      host: o.host,
      port: o.port,
      pollIntervalMs: o.pollMs,
      probeNodes: o.probeNodes,
      ...(o.db ? { database: o.db } : {}),
    },
    { log },
  );
  console.log(`stepproof dashboard: ${dashboard.url}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void dashboard.close().then(() => process.exit(0));
    });
  }
} catch (err) {
  if (err instanceof StepproofError) {
    console.error(`error: ${err.shortMessage}${err.details ? `\n  ${err.details}` : ""}`);
    process.exit(1);
  }
  throw err;
}
