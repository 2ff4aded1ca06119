import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { getAddress, isAddress, type Address } from "viem";
import { z } from "zod";
import { StepproofError } from "../errors.js";

/** The deployed suite on one chain, as nodes, the client and scripts read it. */
export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  /** Block the suite was deployed in: where log followers start. */
  startBlock: z.number().int().nonnegative(),
  deployedAt: z.string(),
  contracts: z.object({
    token: z.string().refine(isAddress, "not an address"),
    modelRegistry: z.string().refine(isAddress, "not an address"),
    nodeRegistry: z.string().refine(isAddress, "not an address"),
    jobEscrow: z.string().refine(isAddress, "not an address"),
    stepProofGame: z.string().refine(isAddress, "not an address"),
    traceAvailability: z.string().refine(isAddress, "not an address"),
    auditManager: z.string().refine(isAddress, "not an address"),
    // Absent in deployments made before the voucher path (PROTOCOL §5.8).
    voucherEscrow: z.string().refine(isAddress, "not an address").optional(),
    batchCourt: z.string().refine(isAddress, "not an address").optional(),
    voucherPublication: z.string().refine(isAddress, "not an address").optional(),
  }),
});

export type Deployment = {
  chainId: number;
  startBlock: number;
  deployedAt: string;
  contracts: {
    token: Address;
    modelRegistry: Address;
    nodeRegistry: Address;
    jobEscrow: Address;
    stepProofGame: Address;
    /** Trace availability challenges (PROTOCOL §8.1). */
    traceAvailability: Address;
    /** Protocol-assigned audits, audit pay, canaries (PROTOCOL §9). */
    auditManager: Address;
    /** Deposits, vouchers and batches (PROTOCOL §5.8); absent in older deployments. */
    voucherEscrow?: Address;
    /** Batch disputes (PROTOCOL §5.8); absent in older deployments. */
    batchCourt?: Address;
    /** Voucher publication (PROTOCOL §5.8); absent in older deployments. */
    voucherPublication?: Address;
  };
};

export class DeploymentFileError extends StepproofError {
  override name = "DeploymentFileError";
}

/** Default location: deployments/<chainId>.json in the repository. */
export function deploymentPath(chainId: number, dir = "deployments"): string {
  return path.join(dir, `${chainId}.json`);
}

export async function readDeployment(file: string, expectedChainId?: number): Promise<Deployment> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (cause) {
    throw new DeploymentFileError(`No deployment file at ${file}.`, {
      details: "Deploy the contracts first (`npm run deploy -- --network <name>`) or point the config at the right file.",
      cause,
    });
  }
  let parsed: z.infer<typeof deploymentSchema>;
  try {
    parsed = deploymentSchema.parse(JSON.parse(raw));
  } catch (cause) {
    throw new DeploymentFileError(`Deployment file ${file} is malformed.`, { cause });
  }
  if (expectedChainId !== undefined && parsed.chainId !== expectedChainId) {
    throw new DeploymentFileError(`Deployment file ${file} is for chain ${parsed.chainId}, but the RPC serves chain ${expectedChainId}.`, {
      details: "Wrong network: check the RPC URL or the deployments file.",
    });
  }
  const c = parsed.contracts;
  return {
    ...parsed,
    contracts: {
      token: getAddress(c.token),
      modelRegistry: getAddress(c.modelRegistry),
      nodeRegistry: getAddress(c.nodeRegistry),
      jobEscrow: getAddress(c.jobEscrow),
      stepProofGame: getAddress(c.stepProofGame),
      traceAvailability: getAddress(c.traceAvailability),
      auditManager: getAddress(c.auditManager),
      ...(c.voucherEscrow ? { voucherEscrow: getAddress(c.voucherEscrow) } : {}),
      ...(c.batchCourt ? { batchCourt: getAddress(c.batchCourt) } : {}),
      ...(c.voucherPublication ? { voucherPublication: getAddress(c.voucherPublication) } : {}),
    },
  };
}

/** Write atomically (temp file + rename) so a killed deploy never leaves half a file. */
export async function writeDeployment(file: string, deployment: Deployment): Promise<void> {
  deploymentSchema.parse(deployment);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(deployment, null, 2)}\n`);
  await rename(tmp, file);
}
