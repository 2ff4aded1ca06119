import path from "node:path";
import { z } from "zod";
import { readJsonConfig, validateConfig } from "../protocol/node/config-file.js";
import { DashboardError } from "./errors.js";

/**
 * Everything `npm run dashboard` can be told, validated once at the edge. The dashboard only
 * reads: it holds no key and sends no transaction.
 */
export const dashboardConfigSchema = z.object({
  rpcUrl: z.string().url(),
  deploymentFile: z.string().min(1),
  /** Refuse any other chain (guards a mistyped RPC URL); the deployment file's own id is always checked. */
  expectedChainId: z.number().int().positive().optional(),
  /** The indexer's SQLite file (cursor and events); default .stepproof/dashboard/<chainId>.sqlite, one stream per deployment inside. */
  database: z.string().min(1).optional(),
  /** Loopback by default: exposing the page is an explicit decision. */
  host: z.string().default("127.0.0.1"),
  /** 0 picks a free port (tests, the demo). */
  port: z.number().int().min(0).max(65535).default(8090),
  /** How often the chain head is polled (ms); 2 s keeps a dev chain's page live without load. */
  pollIntervalMs: z.number().int().min(100).default(2_000),
  /** Blocks per eth_getLogs request: public providers cap the range, 2,000 fits the strict ones. */
  maxLogRange: z.number().int().positive().default(2_000),
  /** Ranges read per poll while catching up, so a long history never blocks a refresh for long. */
  maxRangesPerPoll: z.number().int().positive().default(25),
  /** Only blocks this deep are indexed; a reorg deeper than this makes the indexer start over. 0 suits dev chains. */
  confirmations: z.number().int().nonnegative().default(0),
  /**
   * Probe provers' registered endpoints (GET /healthz and /v1/models) for liveness and model
   * names. The URLs come from the chain, where anyone can register one: turn this off where
   * the dashboard's host must not make outbound requests to them.
   */
  probeNodes: z.boolean().default(true),
  /** How often endpoints are probed (ms); liveness changes slower than blocks. */
  probeIntervalMs: z.number().int().min(1_000).default(15_000),
  /** Jobs and disputes listed on the page (newest first); totals and charts count all of them. */
  listLimit: z.number().int().positive().max(1_000).default(50),
});

export type DashboardConfigInput = z.input<typeof dashboardConfigSchema>;
export type DashboardConfig = z.output<typeof dashboardConfigSchema>;

export function parseDashboardConfig(input: DashboardConfigInput): DashboardConfig {
  const r = dashboardConfigSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ");
    throw new DashboardError(`Invalid dashboard options: ${issues}`, { cause: r.error });
  }
  return r.data;
}

/** The `chain` section that prover and verifier configs share (the rest of a node config is not the dashboard's business). */
const nodeChainSchema = z.object({
  chain: z.object({
    rpcUrl: z.string().url(),
    deploymentFile: z.string().min(1),
    expectedChainId: z.number().int().positive().optional(),
    confirmations: z.number().int().nonnegative().optional(),
    maxLogRange: z.number().int().positive().optional(),
  }),
});

export type NodeChainSettings = Pick<DashboardConfigInput, "rpcUrl" | "deploymentFile" | "expectedChainId" | "confirmations" | "maxLogRange">;

/**
 * The chain settings of a prover's or verifier's config file (`--node-config`), so the dashboard
 * watches exactly what a node on this machine uses; the deployment file resolves against the
 * config's folder, as the nodes resolve it.
 */
export async function readNodeChainSettings(file: string): Promise<NodeChainSettings> {
  const error = (m: string, o: { details?: string; cause?: unknown }) => new DashboardError(m, o);
  const c = validateConfig(nodeChainSchema, await readJsonConfig(file, error), `chain section of ${file}`, error).chain;
  return {
    rpcUrl: c.rpcUrl,
    deploymentFile: path.resolve(path.dirname(path.resolve(file)), c.deploymentFile),
    ...(c.expectedChainId !== undefined ? { expectedChainId: c.expectedChainId } : {}),
    ...(c.confirmations !== undefined ? { confirmations: c.confirmations } : {}),
    ...(c.maxLogRange !== undefined ? { maxLogRange: c.maxLogRange } : {}),
  };
}
