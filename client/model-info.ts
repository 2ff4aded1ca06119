import { readFile } from "node:fs/promises";
import path from "node:path";
import { keccak256, type Hex } from "viem";
import { modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { MANIFEST_FILE, manifestSchema, type ModelManifest } from "../runtime/model/manifest.js";
import { loadTokenizer } from "../protocol/prompt/load-tokenizer.js";
import type { TextTokenizer, TokenizerFiles } from "../protocol/prompt/tokenizer.js";
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

export type ResolveTokenizerParameters = { manifest: ModelManifest } & ({ modelDir: string } | { endpoint: string });

/**
 * The model's tokenizer from a manifest already checked against the chain (resolveManifest):
 * its files come from a local package or from the prover, and loadTokenizer accepts them only
 * if they hash to what the manifest pins — so the chain (manifestHash → manifest → tokenizer
 * sha256) decides the ids, never the prover (PROTOCOL §5.6).
 */
export async function resolveTokenizer(p: ResolveTokenizerParameters): Promise<TextTokenizer> {
  const spec = p.manifest.tokenizer;
  if (spec.type === "bytes") return loadTokenizer(spec);
  const get = async (file: string, route: string): Promise<Uint8Array> => {
    if ("modelDir" in p) {
      return new Uint8Array(await readFile(path.join(p.modelDir, file)).catch((cause: unknown) => {
        throw new ClientError(`cannot read ${file} of the model package at ${p.modelDir}`, { cause });
      }));
    }
    const url = `${p.endpoint.replace(/\/$/, "")}/v1/models/${p.manifest.modelId}/${route}`;
    const res = await fetch(url).catch((cause: unknown) => {
      throw new ClientError(`cannot reach the prover at ${p.endpoint}`, { cause });
    });
    if (!res.ok) throw new ClientError(`the prover at ${p.endpoint} did not serve ${file} (HTTP ${res.status})`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const files: TokenizerFiles = { tokenizer: await get(spec.file, "tokenizer"), chatTemplate: spec.chatTemplate ? await get(spec.chatTemplate.file, "chat-template") : undefined };
  try {
    return loadTokenizer(spec, files);
  } catch (cause) {
    throw new ClientError(`the tokenizer of ${p.manifest.modelId} does not match its registered manifest`, { cause });
  }
}
