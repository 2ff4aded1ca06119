import path from "node:path";
import { z } from "zod";
import { StepproofError } from "../protocol/errors.js";
import { readJsonConfig, validateConfig } from "../protocol/node/config-file.js";

export class VerifierConfigError extends StepproofError {
  override name = "VerifierConfigError";
}

const uintString = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));

export const verifierConfigSchema = z
  .object({
    chain: z.object({
      rpcUrl: z.string().url(),
      deploymentFile: z.string().min(1),
      /** Refuse to start against any other chain (guards a mistyped RPC URL). */
      expectedChainId: z.number().int().positive().optional(),
      /** Act on a commitment only this many blocks deep (reorg safety); default 2. */
      confirmations: z.number().int().nonnegative().default(2),
      /** Blocks per eth_getLogs request; default 1,000 (most providers allow it). */
      maxLogRange: z.number().int().positive().default(1000),
    }),
    /** Encrypted JSON keystore; the password comes from STEPPROOF_KEYSTORE_PASSWORD or a prompt. */
    keystore: z.string().min(1).optional(),
    /** Model packages this verifier can re-execute (model id read from each manifest). */
    models: z.array(z.object({ dir: z.string().min(1) })).min(1),
    /** onnxruntime-node execution provider for re-execution; default cpu. */
    executionProvider: z.enum(["cpu", "cuda", "webgpu"]).default("cpu"),
    sampling: z
      .object({
        /** Fraction of committed jobs checked; default 0.25. */
        jobFraction: z.number().gt(0).lte(1).default(0.25),
        /** Boundaries re-executed per checked job (each over every position); default 2. */
        layersPerJob: z.number().int().positive().default(2),
      })
      .default({ jobFraction: 0.25, layersPerJob: 2 }),
    /**
     * Audits the protocol assigns (PROTOCOL §9): `register` joins the audit pool of every model
     * above (locking the audit bond) and `start` answers each assignment. `lazy` reports without
     * re-executing — for tests and simulations only: a canary takes the whole stake.
     */
    audit: z.object({ mode: z.enum(["honest", "lazy"]).default("honest") }).default({ mode: "honest" }),
    /** Stake for `register` (base units). */
    stake: uintString.optional(),
    /**
     * URL published on-chain, where the operator can be reached (a verifier serves no API).
     * Written like the prover's, `{ "publicUrl": "https://…" }`; a bare URL string, the older
     * form, is accepted too.
     */
    endpoint: z
      .union([z.string().url(), z.object({ publicUrl: z.string().url() }).strict()])
      .default({ publicUrl: "http://127.0.0.1:8700" })
      .transform((e) => (typeof e === "string" ? e : e.publicUrl)),
    /** Directory of the SQLite state (cursor, checked jobs, sampling secret). */
    dataDir: z.string().min(1),
    /** Loop period (ms); default 15 s. */
    loopIntervalMs: z.number().int().positive().default(15_000),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .strict();

export type VerifierConfigInput = z.input<typeof verifierConfigSchema>;
export type VerifierConfig = z.output<typeof verifierConfigSchema>;

/** Validate once at the edge; relative paths resolve against the config file's folder. */
export function parseVerifierConfig(input: unknown, baseDir = process.cwd()): VerifierConfig {
  const c = validateConfig(verifierConfigSchema, input, "verifier config", (m, o) => new VerifierConfigError(m, o));
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...c,
    chain: { ...c.chain, deploymentFile: abs(c.chain.deploymentFile) },
    ...(c.keystore ? { keystore: abs(c.keystore) } : {}),
    models: c.models.map((m) => ({ dir: abs(m.dir) })),
    dataDir: abs(c.dataDir),
  };
}

export async function loadVerifierConfig(file: string): Promise<VerifierConfig> {
  const json = await readJsonConfig(file, (m, o) => new VerifierConfigError(m, o));
  return parseVerifierConfig(json, path.dirname(path.resolve(file)));
}
