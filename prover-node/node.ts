import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { pino, type Logger } from "pino";
import { parseGwei, type LocalAccount } from "viem";
import { nodeRegistryAbi } from "../protocol/chain/generated/abi.js";
import { connectStepproof, type StepproofClients } from "../protocol/chain/client.js";
import { respondToDisputes } from "../node-common/prover-responder.js";
import { MANIFEST_FILE, readManifest } from "../runtime/model/manifest.js";
import { readTokenizerFiles } from "../runtime/model/tokenizer-files.js";
import { loadTokenizer } from "../protocol/prompt/load-tokenizer.js";
import { ContinuousBatcher } from "../runtime/serve/batcher.js";
import { ServeSession } from "../runtime/serve/serve-session.js";
import { getModelSessions } from "../runtime/session.js";
import { TraceStore } from "../runtime/trace/store.js";
import type { ProverConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { createHttpServer } from "./http/server.js";
import { registerOpenAiRoutes } from "./http/openai-routes.js";
import { registerTraceRoutes } from "./http/trace-routes.js";
import { loadKeystoreAccount } from "../protocol/node/keystore.js";
import { BackgroundLoop, type DisputeResponder } from "./loop.js";
import { createProverMetrics } from "./metrics.js";
import { declineMarginSeconds } from "./serve/decline-policy.js";
import { JobService } from "./serve/job-service.js";
import { ProverDb } from "./state/db.js";
import { PersistedTxSender } from "./state/tx-sender.js";
import { RequestNonces } from "./state/request-nonces.js";
import { RateLimiter } from "./http/rate-limit.js";
import { createRequestAuth, registeredVerifiers } from "./http/request-auth.js";
import { CapacityView, capacityJson } from "./capacity.js";
import { VoucherJobs } from "./state/voucher-jobs.js";
import { VoucherService, voucherTraceId } from "./serve/voucher-service.js";
import { BatchCommitter } from "./batches/batch-committer.js";
import { VoucherPublications } from "./batches/voucher-publications.js";
import { registerVoucherRoutes } from "./http/voucher-routes.js";
import { ApiError } from "./errors.js";
import type { FastifyRequest } from "fastify";

export type StartProverNodeOptions = {
  /** Signer; default: the config's keystore, password from STEPPROOF_KEYSTORE_PASSWORD or a prompt. */
  account?: LocalAccount;
  /** Keystore password given directly (embedding); never logged. */
  keystorePassword?: string;
  logger?: Logger;
  /**
   * Plays the prover's side of disputes each tick. Default: protocol/game's respondToDisputes
   * when the deployment has a StepProofGame; `false` turns dispute play off.
   */
  disputeResponder?: DisputeResponder | false;
  /** Start the background loop (default true); tests drive `loop.kick()` themselves. */
  runLoop?: boolean;
};

export type ProverNode = {
  url: string;
  address: `0x${string}`;
  clients: StepproofClients;
  loop: BackgroundLoop;
  db: ProverDb;
  store: TraceStore;
  /** Admission and generation of JobEscrow jobs (HTTP and published prompts share it). */
  jobs: JobService;
  /** The same for vouchers (PROTOCOL §5.8), when `vouchers.enabled`. */
  vouchers: VoucherService | undefined;
  close(): Promise<void>;
};

/** Resolve the signer the way every CLI command does. */
export async function proverAccount(config: ProverConfig, options: Pick<StartProverNodeOptions, "account" | "keystorePassword"> = {}): Promise<LocalAccount> {
  if (options.account) return options.account;
  if (!config.keystore) throw new ConfigError("no signer: set `keystore` in the config");
  return loadKeystoreAccount(config.keystore, options.keystorePassword !== undefined ? { password: options.keystorePassword } : { fromEnvOrPrompt: true });
}

/**
 * Start a prover node: connect (chain id and contracts checked), open the database and trace
 * store, serve HTTP, and run the background loop, whose first tick resumes anything a previous
 * process left (pending transactions, uncommitted results).
 */
export async function startProverNode(config: ProverConfig, options: StartProverNodeOptions = {}): Promise<ProverNode> {
  const logger = options.logger ?? pino({ level: config.logLevel, redact: ["password", "privateKey", "*.password", "*.privateKey"] });
  const account = await proverAccount(config, options);
  // Every JSON-RPC request is counted, so a loop pass can report what it cost (issue #15).
  const rpc = { requests: 0 };
  const clients = await connectStepproof({ rpcUrl: config.chain.rpcUrl, deploymentFile: config.chain.deploymentFile, account, ...(config.chain.expectedChainId ? { expectedChainId: config.chain.expectedChainId } : {}), onRpcRequest: () => void rpc.requests++ });
  const manifest = await readManifest(config.model.dir);
  // Load the serving session now, so the first paid request does not spend its commit margin on it.
  const serving = await ServeSession.load(config.model.dir, { executionProvider: config.model.executionProvider, ...(config.serving.threads ? { threads: config.serving.threads } : {}), ...(config.serving.spinning === undefined ? {} : { spinning: config.serving.spinning }) });
  const batcher = new ContinuousBatcher(serving, { maxBatch: config.serving.maxBatch, maxQueued: config.maxQueuedJobs, kvCacheBytes: config.serving.kvCacheBytes });
  // The demo cheater generates on the split graphs (its corruption feeds the next block, §5.6).
  if (config.corrupt) await getModelSessions(config.model.dir, { executionProvider: config.model.executionProvider });
  const manifestBytes = readFileSync(path.join(config.model.dir, MANIFEST_FILE));
  // Text in and out (PROTOCOL §5.6): the package's tokenizer files, checked against the manifest's hashes.
  const tokenizerFiles = await readTokenizerFiles(config.model.dir, manifest.tokenizer);
  const tokenizer = loadTokenizer(manifest.tokenizer, tokenizerFiles);
  const db = new ProverDb(config.dataDir);
  const store = TraceStore.open({ dir: config.traceStore.dir, maxBytes: config.traceStore.maxBytes, retentionMs: config.traceStore.retentionMs });
  const metrics = createProverMetrics();
  const log = logger.child({ prover: account.address });
  const sender = new PersistedTxSender(db, clients, (m) => log.warn({}, m), { receiptTimeoutMs: config.chain.receiptTimeoutSeconds * 1000, replaceAfterMs: config.chain.replaceAfterSeconds * 1000, ...(config.chain.maxFeePerGasGwei !== undefined ? { maxFeePerGas: parseGwei(String(config.chain.maxFeePerGasGwei)) } : {}) });
  const jobs = new JobService({
    clients,
    prover: account.address,
    manifest,
    modelDir: config.model.dir,
    executionProvider: config.model.executionProvider,
    db,
    store,
    sender,
    metrics,
    commitMarginSeconds: config.commitMarginSeconds,
    maxQueuedJobs: config.maxQueuedJobs,
    batcher,
    corrupt: config.corrupt,
    log,
  });
  // Serving on signed vouchers with batched settlement (PROTOCOL §5.8), when enabled.
  const voucherJobs = config.vouchers.enabled ? new VoucherJobs(db.db) : undefined;
  if (config.vouchers.enabled && !clients.deployment.contracts.voucherEscrow) {
    throw new ConfigError("vouchers.enabled, but the deployment has no VoucherEscrow", { details: "redeploy (`npm run deploy`) to add the voucher contracts, or turn vouchers off" });
  }
  const voucherService = voucherJobs
    ? new VoucherService({
        clients,
        prover: account.address,
        manifest,
        store,
        batcher,
        vouchers: voucherJobs,
        metrics,
        prices: config.prices,
        minLifetimeSeconds: config.vouchers.minLifetimeSeconds,
        maxQueuedJobs: config.maxQueuedJobs,
        ...(config.corrupt ? { corrupt: { config: config.corrupt, modelDir: config.model.dir, executionProvider: config.model.executionProvider } } : {}),
        log,
      })
    : undefined;
  const committer = voucherJobs
    ? new BatchCommitter({
        clients,
        prover: account.address,
        vouchers: voucherJobs,
        sender,
        intervalSeconds: config.vouchers.batchIntervalSeconds,
        maxBatchJobs: config.vouchers.maxBatchJobs,
        reserveHeadroom: config.vouchers.reserveHeadroom,
        standingReserve: config.vouchers.standingReserve,
        expiryMarginSeconds: Math.ceil(config.vouchers.minLifetimeSeconds / 2),
        onAdopted: (jobId, job) => db.recordAdopted(jobId, { inputTokens: job.voucher.inputTokens, outputTokenIds: job.outputTokenIds ?? [], traceRoot: job.traceRoot!, outputRoot: job.outputRoot!, client: job.client }),
        log,
      })
    : undefined;
  // Vouchers clients published on-chain (PROTOCOL §5.8 "Publication"), on deployments that have it.
  const publications =
    voucherService && voucherJobs && committer && clients.deployment.contracts.voucherPublication
      ? new VoucherPublications({ clients, prover: account.address, db: db.db, vouchers: voucherJobs, service: voucherService, committer, sender, log, declineMarginSeconds: declineMarginSeconds(config.loopIntervalMs) })
      : undefined;
  /** A voucher job moved into the JobEscrow keeps its trace under its voucher hash. */
  const traceIdOf = (jobId: bigint): string => {
    const v = voucherJobs?.jobByJobId(jobId);
    return v ? voucherTraceId(v.voucherHash) : jobId.toString();
  };
  const disputeResponder = options.disputeResponder === false ? undefined : (options.disputeResponder ?? (clients.deployment.contracts.stepProofGame ? respondToDisputes : undefined));
  const capacity = new CapacityView(clients, account.address, manifest.modelId as `0x${string}`, config.prices, metrics, log);
  const loop = new BackgroundLoop({ clients, db, store, sender, jobs, metrics, declineMarginSeconds: declineMarginSeconds(config.loopIntervalMs), withdrawThreshold: config.withdrawThreshold, modelDir: config.model.dir, ...(disputeResponder ? { disputeResponder } : {}), log, capacity, rpc, maxLogRange: config.chain.maxLogRange, confirmations: config.chain.confirmations, ...(committer ? { batches: committer, traceIdOf } : {}), ...(publications ? { publications } : {}) }, config.loopIntervalMs);

  // Not fatal: `stepproof-prover register` may run after start; but say so loudly.
  const offer = await clients.publicClient.readContract({ address: clients.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "getOffer", args: [account.address, manifest.modelId] });
  if (!offer.active) log.warn({ modelId: manifest.modelId }, "no active offer on-chain for this model: run `stepproof-prover register`");
  if (config.corrupt) log.warn({ corrupt: config.corrupt }, "CORRUPTING traces (demo cheater)");

  const nonces = new RequestNonces(config.dataDir);
  const auth = createRequestAuth({ chainId: clients.chain.id, prover: account.address, nonces, isVerifier: registeredVerifiers(clients, { missLimiter: new RateLimiter(config.endpoint.rateLimit.verifierLookupsPerIp) }), limiter: new RateLimiter(config.endpoint.rateLimit.perSigner), signedIpLimiter: new RateLimiter(config.endpoint.rateLimit.signedPerIp) });
  const metricsToken = process.env["STEPPROOF_METRICS_TOKEN"];
  const metricsReaders = new Set([account.address, ...config.endpoint.metricsReaders].map((a) => a.toLowerCase()));
  const authorizeMetrics = async (req: FastifyRequest) => {
    // A scraper's bearer token (compared in constant time), else a signed request of a reader.
    if (metricsToken && req.headers.authorization?.startsWith("Bearer ")) {
      const given = Buffer.from(req.headers.authorization.slice(7));
      const want = Buffer.from(metricsToken);
      if (given.length === want.length && timingSafeEqual(given, want)) return;
      throw new ApiError(401, "signature_invalid", "wrong metrics token");
    }
    const signer = await auth.authenticate(req);
    if (!metricsReaders.has(signer.toLowerCase())) throw new ApiError(403, "not_entitled", `${signer} may not read this node's metrics (endpoint.metricsReaders)`);
  };
  const app = createHttpServer({
    bodyLimit: config.endpoint.bodyLimit,
    logger: log,
    metrics,
    ipLimiter: new RateLimiter(config.endpoint.rateLimit.perIp),
    authorizeMetrics,
    maxConnections: config.endpoint.maxConnections,
    maxConnectionsPerIp: config.endpoint.maxConnectionsPerIp,
    timeouts: config.endpoint.timeouts,
    health: async (q) => {
      const c = await capacity.current();
      // Asked about a job's size: say now, before the client pays, whether this node can take it.
      if (q.inputTokens !== undefined && q.maxTokens !== undefined) {
        await capacity.refuseUnlessTakes(q.inputTokens, q.maxTokens);
        if (jobs.queued >= config.maxQueuedJobs) throw new ApiError(503, "server_busy", `${jobs.queued} jobs are queued on this node; retry shortly`, { retryAfterSeconds: 1 });
      }
      metrics.queuedJobs.set(jobs.queued);
      return { prover: account.address, model: manifest.modelId, chainId: clients.chain.id, chainHead: (await clients.publicClient.getBlockNumber()).toString(), lastTickBlock: db.getCursor("lastTickBlock") ?? null, jobs: db.countByState(), queued: jobs.queued, capacity: capacityJson(c) };
    },
  });
  registerOpenAiRoutes(app, { jobs, ...(voucherService ? { vouchers: voucherService } : {}), manifest, manifestBytes, tokenizer, tokenizerFiles, prover: account.address, prices: config.prices });
  registerTraceRoutes(app, {
    db,
    store,
    auth,
    clients,
    traceIdOf,
    ...(voucherJobs
      ? {
          voucherJob: (hash: `0x${string}`) => {
            const v = voucherJobs.job(hash);
            if (!v) return undefined;
            // Job id 0 until moved into the JobEscrow; the trace is read by the voucher hash.
            const state = v.state === "generating" ? "generating" : v.state === "failed" ? "failed" : "generated";
            return { jobId: v.jobId ?? 0n, state, inputTokens: v.voucher.inputTokens, client: v.client, traceRoot: v.traceRoot, outputRoot: v.outputRoot, outputTokenIds: v.outputTokenIds, commitTx: undefined };
          },
        }
      : {}),
  });
  if (voucherService && voucherJobs && committer) registerVoucherRoutes(app, { service: voucherService, vouchers: voucherJobs, committer });
  try {
    await app.listen({ host: config.endpoint.host, port: config.endpoint.port });
  } catch (cause) {
    // Nothing was served or sent yet: release what start opened and say which setting to change.
    await app.close().catch(() => {});
    db.close();
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "the address is already in use (another prover on that port?)" : code === "EACCES" ? "permission denied (ports below 1024 need privileges)" : (cause as Error).message;
    throw new ConfigError(`cannot listen on ${config.endpoint.host}:${config.endpoint.port}: ${why}`, { details: "stop the other process or set endpoint.port in the config", cause });
  }
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.endpoint.port;
  const url = `http://${config.endpoint.host.includes(":") ? `[${config.endpoint.host}]` : config.endpoint.host}:${port}`;
  if (options.runLoop ?? true) loop.start();
  log.info({ url, model: manifest.modelId, chainId: clients.chain.id }, "prover node listening");

  let closed = false;
  return {
    url,
    address: account.address,
    clients,
    loop,
    db,
    store,
    jobs,
    vouchers: voucherService,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await loop.stop();
      await batcher.idle();
      await serving.release();
      // Receipts still awaited are not waited for: their transactions stay pending in the database.
      sender.close();
      db.close();
      nonces.close();
    },
  };
}
