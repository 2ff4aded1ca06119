import { BatchFollower, recordInto } from "./batch-follower.js";
import path from "node:path";
import { pino, type Logger } from "pino";
import type { Hex, LocalAccount } from "viem";
import { connectStepproof, type StepproofClients } from "../protocol/chain/client.js";
import { loadKeystoreAccount } from "../protocol/node/keystore.js";
import { readManifest } from "../runtime/model/manifest.js";
import { ModelSessions, releaseAllSessions } from "../runtime/session.js";
import { VerifierConfigError, type VerifierConfig } from "./config.js";
import { HttpTraceSource } from "./http-trace-source.js";
import { VerifierNode, type TickReport } from "./node.js";
import { VerifierState } from "./state.js";
import { StepDisputeDriver } from "./step-dispute-driver.js";
import { AvailabilityDriver } from "./availability-driver.js";
import { AuditDriver } from "./audit-driver.js";
import { auditManagerAbi } from "../protocol/chain/generated/abi.js";

export type RunningVerifier = {
  node: VerifierNode;
  clients: StepproofClients;
  /** Run one tick now (waits for one in progress). */
  tick(): Promise<TickReport>;
  close(): Promise<void>;
};

export async function verifierAccount(config: VerifierConfig, options: { account?: LocalAccount; keystorePassword?: string } = {}): Promise<LocalAccount> {
  if (options.account) return options.account;
  if (!config.keystore) throw new VerifierConfigError("no signer: set `keystore` in the config");
  return loadKeystoreAccount(config.keystore, options.keystorePassword !== undefined ? { password: options.keystorePassword } : { fromEnvOrPrompt: true });
}

/**
 * Start a verifier: connect (chain id and contracts checked), load each model for re-execution,
 * open the SQLite state, and tick every `loopIntervalMs`. A failing tick (RPC outage, prover
 * offline) is logged and retried with backoff; the state it leaves is always consistent.
 */
export async function startVerifierNode(config: VerifierConfig, options: { account?: LocalAccount; keystorePassword?: string; logger?: Logger; runLoop?: boolean } = {}): Promise<RunningVerifier> {
  const log = options.logger ?? pino({ level: config.logLevel });
  const account = await verifierAccount(config, options);
  const clients = await connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, account, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}) });
  const sessions = new Map<Hex, ModelSessions>();
  const dirs = new Map<string, string>();
  for (const m of config.models) {
    const manifest = await readManifest(m.dir);
    const id = manifest.modelId.toLowerCase() as Hex;
    sessions.set(id, await ModelSessions.load(m.dir, { executionProvider: config.executionProvider }));
    dirs.set(id, m.dir);
  }
  const state = new VerifierState(path.join(config.dataDir, "verifier.sqlite"));
  const traceSource = new HttpTraceSource(clients);
  const info = (line: string) => log.info(line);
  const node = new VerifierNode({
    clients,
    state,
    traceSource,
    sessions,
    // Its own disputes are followed without confirmations: the game's clocks do not wait.
    disputes: new StepDisputeDriver(clients, traceSource, dirs, info, state.db, { confirmations: 0, maxRange: config.chain.maxLogRange }),
    availability: new AvailabilityDriver(clients, state.db, info),
    audits: new AuditDriver(clients, state.db, traceSource, config.audit.mode, info),
    ...(clients.deployment.contracts.voucherEscrow
      ? {
          batches: new BatchFollower({
            clients,
            db: state.db,
            traceSource,
            sessions,
            policy: config.sampling,
            secret: () => state.secret(),
            confirmations: config.chain.confirmations,
            maxLogRange: config.chain.maxLogRange,
            ...recordInto(state),
            log: info,
          }),
        }
      : {}),
    policy: config.sampling,
    confirmations: config.chain.confirmations,
    maxLogRange: config.chain.maxLogRange,
    log: info,
  });

  let running: Promise<TickReport> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  const tick = async (): Promise<TickReport> => {
    while (running) await running.catch(() => {});
    running = node.tick();
    try {
      return await running;
    } finally {
      running = undefined;
    }
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(async () => {
      try {
        const r = await tick();
        failures = 0;
        if (r.checked || r.disputesOpened || r.moves || r.backlog) log.info(r, "verifier tick");
      } catch (err) {
        failures++;
        log.warn({ err: (err as Error).message, failures }, "verifier tick failed; retrying");
      }
      // Back off up to 16 periods while the chain or provers are failing.
      schedule(config.loopIntervalMs * Math.min(16, 2 ** failures));
    }, ms);
  };
  if (options.runLoop ?? true) schedule(0);
  const pools: Hex[] = [];
  for (const id of dirs.keys() as Iterable<Hex>) {
    const member = await clients.publicClient.readContract({ address: clients.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "isActiveMember", args: [id, account.address] });
    if (member) pools.push(id);
    else log.warn({ model: id }, "not in this model's audit pool: no audits will be assigned (run `register` to join)");
  }
  const p = config.sampling;
  log.info(
    { verifier: account.address, models: [...dirs.keys()], auditPools: pools, auditMode: config.audit.mode, policy: p },
    `verifier started: answers the audits the protocol assigns it in ${pools.length} audit pool(s), and checks ${+(p.jobFraction * 100).toFixed(2)} % of all committed jobs on top (${p.layersPerJob} boundaries and the head step each)`,
  );
  // What it can keep up with, from the check times measured before this start (issue #15).
  const t = node.throughput();
  log.info(
    t,
    t.jobsPerMinute === undefined
      ? "sustainable rate unknown until the first checks (logged with each tick's backlog)"
      : `sustainable rate ≈ ${t.jobsPerMinute} committed jobs/min at this sampling (a check takes ${t.checkMs} ms); backlog ${t.backlog}, ${t.settledUnchecked} sampled jobs settled unchecked so far`,
  );
  return {
    node,
    clients,
    tick,
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => {});
      state.close();
      await releaseAllSessions();
    },
  };
}
