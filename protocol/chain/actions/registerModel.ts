import type { Hex } from "viem";
import type { Architecture } from "../../dispute/model.js";
import { modelRegistryAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** IModelRegistry.Architecture (PROTOCOL §2.1). */
export type ModelArchitecture = Architecture;

/** IModelRegistry.Encoding (PROTOCOL §3.1). */
export type ModelEncoding = { traceDtype: 1 | 2; weightsDtype: 1 | 2; chunkSize: number };

/** IModelRegistry.OpTolerance, Q32.32 fixed point (PROTOCOL §6). */
export type OpTolerance = { atol: bigint; rtol: bigint };

export type RegisterModelParameters = {
  modelId: Hex;
  weightsRoot: Hex;
  manifestHash: Hex;
  architecture: ModelArchitecture;
  encoding: ModelEncoding;
  tolerances: readonly OpTolerance[];
};

/**
 * Register a model version (needs REGISTRAR_ROLE). Registrations are immutable, so an
 * existing identical registration is accepted and a conflicting one is an error.
 * @returns false when the model was already registered with the same weights root.
 */
export async function registerModel(clients: StepproofClients, p: RegisterModelParameters): Promise<boolean> {
  const registry = clients.deployment.contracts.modelRegistry;
  const exists = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "isRegistered", args: [p.modelId] });
  if (exists) {
    const model = await clients.publicClient.readContract({ address: registry, abi: modelRegistryAbi, functionName: "getModel", args: [p.modelId] });
    if (model.weightsRoot.toLowerCase() !== p.weightsRoot.toLowerCase()) {
      throw new Error(`Model ${p.modelId} is registered with weights root ${model.weightsRoot}, not ${p.weightsRoot}; registrations are immutable, use a new model id.`);
    }
    return false;
  }
  await sendContractTransaction(clients, {
    address: registry,
    abi: modelRegistryAbi,
    functionName: "registerModel",
    args: [p.modelId, p.weightsRoot, p.manifestHash, p.architecture, p.encoding, p.tolerances],
    what: `register model ${p.modelId}`,
  });
  return true;
}
