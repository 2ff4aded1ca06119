import path from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { readJsonConfig, validateConfig } from "../protocol/node/config-file.js";

const uintString = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));

/** The cheating prover of the demo (PROTOCOL §5.6): see prover-node/generation/loop.ts. */
export const corruptSchema = z.object({
  /** The boundary whose step is botched, or "all": every boundary 0..L (a canary, PROTOCOL §9.3). */
  layer: z.union([z.number().int().nonnegative(), z.literal("all")]),
  position: z.number().int().nonnegative(),
  element: z.number().int().nonnegative(),
  delta: z.number().finite(),
  /** Corrupt job k when k % everyNthJob == 0 in the order this node serves them (1 = all). */
  everyNthJob: z.number().int().positive().default(1),
});

export const proverConfigSchema = z
  .object({
    chain: z.object({
      rpcUrl: z.string().url(),
      deploymentFile: z.string().min(1),
      /** Refuse to start against any other chain (guards a mistyped RPC URL). */
      expectedChainId: z.number().int().positive().optional(),
      /** Blocks per eth_getLogs request of the loop's log cursors; default 1,000 (most providers allow 10k). */
      maxLogRange: z.number().int().positive().default(1000),
      /**
       * Blocks a published prompt or dispute must be buried under before the loop acts on it;
       * default 0 (a published prompt has a deadline; a reorg rewinds the cursor and admission
       * re-reads the job anyway).
       */
      confirmations: z.number().int().nonnegative().default(0),
      /**
       * Seconds a send waits for its receipt before leaving the transaction to the loop, which
       * rebroadcasts or replaces it (a dropped one must not hold the loop); default 120.
       */
      receiptTimeoutSeconds: z.number().int().positive().default(120),
      /** A transaction unmined this many seconds after it was signed is replaced with higher fees; default 300 (PROTOCOL §5.7). */
      replaceAfterSeconds: z.number().int().positive().default(300),
      /** The highest fee cap (gwei per gas) a replacement may offer; unset: bounded by the chain's own estimate only. */
      maxFeePerGasGwei: z.number().positive().optional(),
    }),
    /** Encrypted JSON keystore (Web3 secret storage); the password never goes in this file. */
    keystore: z.string().min(1).optional(),
    model: z.object({
      /** Model package directory (manifest.json, graphs, weights). */
      dir: z.string().min(1),
      /** Execution provider for onnxruntime-node; default cpu (available everywhere). */
      executionProvider: z.enum(["cpu", "cuda", "webgpu"]).default("cpu"),
    }),
    /** Prices per token in the payment token's base units (decimal strings: uint128 exceeds JS numbers). */
    prices: z.object({ input: uintString, output: uintString }),
    /** Stake for `register`/`stake` (base units). */
    stake: uintString.optional(),
    endpoint: z.object({
      /** Default loopback: exposing the API is an explicit decision. */
      host: z.string().default("127.0.0.1"),
      /** 0 picks a free port (tests). */
      port: z.number().int().min(0).max(65535).default(8600),
      /** URL published on-chain for clients; default http://host:port. */
      publicUrl: z.string().url().optional(),
      /** Largest request body accepted (bytes); default 1 MiB, plenty for a context of text. */
      bodyLimit: z.number().int().positive().default(1 << 20),
      /** Open connections at most; more are dropped at accept (slow or idle clients cannot exhaust the node). Default 512. */
      maxConnections: z.number().int().positive().default(512),
      /** Open connections per IP address (IPv6 by /64); more are closed at once, so one address cannot hold them all. Default 32. */
      maxConnectionsPerIp: z.number().int().positive().default(32),
      /** Socket timeouts (ms) that drop held sockets (PROTOCOL §5.7). */
      timeouts: z
        .object({
          /** Until a request's headers are in. Default 10 s. */
          headersMs: z.number().int().positive().default(10_000),
          /** Until a whole request is in (not the response). Default 30 s. */
          requestMs: z.number().int().positive().default(30_000),
          /** An idle keep-alive connection between requests. Default 5 s. */
          keepAliveMs: z.number().int().positive().default(5_000),
          /** No traffic either way, a non-streamed generation included: longer than any job's generation. Default 10 min. */
          idleMs: z.number().int().positive().default(600_000),
        })
        .default({}),
      /**
       * Per-requester rate limits (429 with Retry-After past them): every request counts against
       * its IP address, a signed request also against its signer (PROTOCOL §5.7). Defaults: 50/s
       * per signer with bursts of 200 (a verifier reads a job in a handful of requests), 500/s
       * per IP with bursts of 1,000 (a gateway or NAT carries many clients).
       */
      rateLimit: z
        .object({
          perSigner: z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }).default({ perSecond: 50, burst: 200 }),
          perIp: z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }).default({ perSecond: 500, burst: 1000 }),
          /** Requests carrying a signature, per IP (IPv6 by /64), counted before the signature is recovered (2–4 ms of CPU each). Default 50/s, bursts of 100. */
          signedPerIp: z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }).default({ perSecond: 50, burst: 100 }),
          /** Verifier-registry cache misses (chain reads) per IP: fresh keys cannot become unbounded RPC load. Default 2/s, bursts of 20. */
          verifierLookupsPerIp: z.object({ perSecond: z.number().positive(), burst: z.number().int().positive() }).default({ perSecond: 2, burst: 20 }),
        })
        .default({}),
      /**
       * Addresses besides this prover's own that may read /metrics with a signed request
       * (PROTOCOL §5.7). A scraper that cannot sign sends `Authorization: Bearer <token>` with the
       * token from STEPPROOF_METRICS_TOKEN (a secret: never in this file).
       */
      metricsReaders: z.array(z.string().regex(/^0x[0-9a-fA-F]{40}$/)).default([]),
    }),
    traceStore: z.object({
      dir: z.string().min(1),
      /** Disk budget for traces (bytes); jobs that would exceed it are refused with 507. */
      maxBytes: z.number().int().positive(),
      /** Keep traces this long at most (ms); default 8 days (window + disputes + margin). */
      retentionMs: z.number().int().positive().default(8 * 24 * 3600 * 1000),
    }),
    /** Directory of the node's SQLite database (jobs, pending transactions, cursor). */
    dataDir: z.string().min(1),
    /** Background loop period (ms): commit, finalize, withdraw; default 15 s. */
    loopIntervalMs: z.number().int().positive().default(15_000),
    /** Refuse jobs whose commit deadline is closer than this (s): generation plus commit must fit; default 60 s. */
    commitMarginSeconds: z.number().int().nonnegative().default(60),
    /**
     * Jobs admitted and not yet generated, at most: `serving.maxBatch` of them generate together,
     * the rest wait for a slot; past this a request gets 503 server_busy (a job queued longer
     * could miss its commit deadline). Default 16.
     */
    maxQueuedJobs: z.number().int().positive().default(16),
    /** The continuous batcher (PROTOCOL §4.2 "Serving"). */
    serving: z
      .object({
        /** Jobs decoded together in one forward pass (KV slots); default 8. */
        maxBatch: z.number().int().positive().default(8),
        /** Intra-op threads of the one serving session; default every core this process may use. */
        threads: z.number().int().positive().optional(),
        /** Whether idle pool threads busy-wait between operators; default the serving session's (runtime/serve/serve-session.ts). */
        spinning: z.boolean().optional(),
        /** Bytes the KV cache may take; default 1 GiB. */
        kvCacheBytes: z.number().int().positive().default(2 ** 30),
      })
      .strict()
      .default({}),
    /**
     * Serving on signed vouchers with batched settlement (PROTOCOL §5.8), beside per-job
     * serving. Needs a deployment with a VoucherEscrow.
     */
    vouchers: z
      .object({
        enabled: z.boolean().default(false),
        /** Commit a batch once its oldest job waited this long (s); default 30. */
        batchIntervalSeconds: z.number().int().positive().default(30),
        /** …or once this many jobs wait; default 100. */
        maxBatchJobs: z.number().int().positive().max(4096).default(100),
        /** Stake reserved beyond the need each time the reserve grows (base units); default 0. */
        reserveHeadroom: uintString.default("0"),
        /**
         * Keep at least this much of the reserve unheld (base units), reserved at start: a
         * client's published voucher holds its penalty there (PROTOCOL §5.8 "Publication"), so
         * with none a client cannot publish until this node's first batch; default 0.
         */
        standingReserve: uintString.default("0"),
        /** Refuse vouchers expiring sooner than this (s), and do not batch jobs this close to expiry; default 120. */
        minLifetimeSeconds: z.number().int().positive().default(120),
      })
      .strict()
      .default({}),
    /** Withdraw credits once they reach this (base units); default 0 = whenever non-zero. */
    withdrawThreshold: uintString.default("0"),
    corrupt: corruptSchema.optional(),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .strict();

export type ProverConfigInput = z.input<typeof proverConfigSchema>;
export type ProverConfig = z.output<typeof proverConfigSchema>;
export type CorruptConfig = z.output<typeof corruptSchema>;

/** Validate once at the edge; relative paths resolve against `baseDir` (the config file's folder). */
export function parseProverConfig(input: unknown, baseDir = process.cwd()): ProverConfig {
  const c = validateConfig(proverConfigSchema, input, "prover config", (m, o) => new ConfigError(m, o));
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...c,
    chain: { ...c.chain, deploymentFile: abs(c.chain.deploymentFile) },
    ...(c.keystore ? { keystore: abs(c.keystore) } : {}),
    model: { ...c.model, dir: abs(c.model.dir) },
    traceStore: { ...c.traceStore, dir: abs(c.traceStore.dir) },
    dataDir: abs(c.dataDir),
  };
}

export async function loadProverConfig(file: string): Promise<ProverConfig> {
  const json = await readJsonConfig(file, (m, o) => new ConfigError(m, o));
  return parseProverConfig(json, path.dirname(path.resolve(file)));
}
