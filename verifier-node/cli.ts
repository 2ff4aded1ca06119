#!/usr/bin/env -S npx tsx
/**
 * stepproof-verifier start|register|unbond|status --config <file>
 * The key comes from the config's encrypted JSON keystore; the password from
 * STEPPROOF_KEYSTORE_PASSWORD or a prompt. Nothing secret is printed.
 */
import path from "node:path";
import { Command } from "commander";
import { addKeysCommand } from "../protocol/node/keys-command.js";
import { formatEther, parseEther } from "viem";
import { registerNode } from "../protocol/chain/actions/registerNode.js";
import { unbond } from "../protocol/chain/actions/unbond.js";
import { connectStepproof } from "../protocol/chain/client.js";
import { auditManagerAbi, nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { readDetectionProbability } from "../protocol/chain/actions/audits.js";
import { StepproofError } from "../protocol/errors.js";
import { readManifest } from "../runtime/model/manifest.js";
import { loadVerifierConfig, VerifierConfigError, type VerifierConfig } from "./config.js";
import { detectionProbability } from "./sampling.js";
import { startVerifierNode, verifierAccount } from "./start.js";
import { VerifierState } from "./state.js";

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
    console.log(`registered verifier ${clients.walletClient!.account.address}; in the audit pools of ${models.join(", ")}`);
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
  .description("stake, checked jobs and audits by state, the protocol's detection probability and the sampling policy's")
  .requiredOption("--config <file>", "verifier config (JSON)")
  .action(async (o: { config: string }) => {
    const config = await loadVerifierConfig(o.config);
    const clients = await connect(config);
    const me = clients.walletClient!.account.address;
    const node = await clients.publicClient.readContract({ address: clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getNode", args: [me] });
    const state = new VerifierState(path.join(config.dataDir, "verifier.sqlite"));
    const counts: Record<string, number> = {};
    for (const j of state.all()) counts[j.state] = (counts[j.state] ?? 0) + 1;
    // Whether it keeps up (issue #15): measured check time, backlog, sampled jobs settled unchecked.
    const checkMs = state.stat("checkMs");
    const throughput = {
      checkMs: checkMs === undefined ? null : Math.round(checkMs),
      sustainableJobsPerMinute: checkMs === undefined ? null : Math.round((60_000 / checkMs / config.sampling.jobFraction) * 10) / 10,
      backlog: (counts["new"] ?? 0) + (counts["error"] ?? 0),
      settledUnchecked: state.settledUnchecked(),
    };
    const audits: Record<string, number> = {};
    try {
      for (const a of state.db.prepare("SELECT state, COUNT(*) AS n FROM audits GROUP BY state").all() as { state: string; n: number }[]) audits[a.state] = a.n;
    } catch {
      // No audits table yet: the node never started.
    }
    state.close();
    const manifest = await readManifest(config.models[0]!.dir);
    const layers = manifest.architecture.layers;
    const d = detectionProbability(config.sampling, layers);
    const protocolDetection = await readDetectionProbability(clients, manifest.modelId as `0x${string}`);
    const auditor = await clients.publicClient.readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "getAuditor", args: [me] });
    console.log(
      JSON.stringify(
        {
          verifier: me,
          stake: formatEther(node.stake),
          auditBond: formatEther(auditor.bond),
          ejected: auditor.ejectedBlock !== 0,
          jobs: counts,
          throughput,
          audits,
          // PROTOCOL §9.1: the protocol's probability of catching one corrupted step of a job.
          protocolDetectionPerCorruptedJob: protocolDetection,
          policy: config.sampling,
          policyDetectionPerCorruptedJob: d.perJob,
          policyDetectionOverTenCorruptedJobs: detectionProbability(config.sampling, layers, 10).overJobs,
        },
        null,
        2,
      ),
    );
  });

addKeysCommand(program);

program.parseAsync().catch((err: unknown) => {
  if (err instanceof StepproofError) {
    console.error(`error: ${err.message}`);
    process.exit(1);
  }
  throw err;
});
