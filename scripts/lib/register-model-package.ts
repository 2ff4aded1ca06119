import { readFile } from "node:fs/promises";
import path from "node:path";
import { keccak256, type Hex } from "viem";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { recommendedTolerances } from "../../protocol/game/tolerances.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../../runtime/model/manifest.js";

/**
 * LAYER_OUT tolerance for fp16 traces of the synthetic models: PROTOCOL §6.5 measured honest
 * drift at 10–16% of this bound on the tiny model.
 */
export const FP16_LAYER_OUT = { atol: 2 ** -10, rtol: 2 ** -8 } as const;

/**
 * Register a model package as it is on disk: its id and weights root from the manifest, the
 * manifest's keccak256 (clients check the tokenizer against it), PROTOCOL §6.5 tolerances.
 * Calibrate first: calibration rewrites the manifest and so its hash.
 */
export async function registerModelPackage(gov: StepproofClients, dir: string, layerOut: { atol: number; rtol: number } = FP16_LAYER_OUT): Promise<ModelManifest> {
  const manifest = await readManifest(dir);
  await registerModel(gov, {
    modelId: manifest.modelId as Hex,
    weightsRoot: manifest.weightsRoot as Hex,
    manifestHash: keccak256(await readFile(path.join(dir, MANIFEST_FILE))),
    architecture: manifest.architecture,
    encoding: manifest.encoding as { traceDtype: 1 | 2; weightsDtype: 1 | 2; chunkSize: number },
    tolerances: recommendedTolerances(layerOut),
  });
  return manifest;
}
