import { readFile } from "node:fs/promises";
import path from "node:path";
import { keccak256, type Hex } from "viem";
import { modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { MANIFEST_FILE, manifestSchema, type ModelManifest } from "../runtime/model/manifest.js";
import { ClientError } from "./errors.js";

export type ResolveManifestParameters = { modelId: Hex } & ({ modelDir: string } | { endpoint: string });

/**
 * The model's manifest (tokenizer included), trusted only if keccak256 of its bytes equals the
 * manifestHash registered on-chain (PROTOCOL §2.2): then it does not matter whether it came
 * from a local package or from the prover itself.
 */
export async function resolveManifest(clients: StepproofClients, p: ResolveManifestParameters): Promise<ModelManifest> {
  const model = await clients.publicClient.readContract({ address: clients.deployment.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [p.modelId] }).catch((cause: unknown) => {
    throw new ClientError(`model ${p.modelId} is not registered`, { cause });
  });
  let bytes: Uint8Array;
  if ("modelDir" in p) {
    bytes = await readFile(path.join(p.modelDir, MANIFEST_FILE));
  } else {
    const res = await fetch(`${p.endpoint.replace(/\/$/, "")}/v1/models/${p.modelId}/manifest`).catch((cause: unknown) => {
      throw new ClientError(`cannot reach the prover at ${p.endpoint}`, { cause });
    });
    if (!res.ok) throw new ClientError(`the prover at ${p.endpoint} did not serve the manifest of ${p.modelId} (HTTP ${res.status})`);
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  if (keccak256(bytes) !== model.manifestHash) throw new ClientError(`manifest of ${p.modelId} does not match its on-chain manifestHash`, { details: `got ${keccak256(bytes)}, registered ${model.manifestHash}` });
  const parsed = manifestSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  if (!parsed.success || parsed.data.modelId !== p.modelId.toLowerCase()) throw new ClientError(`manifest of ${p.modelId} is invalid`, { cause: parsed.error });
  return parsed.data;
}
