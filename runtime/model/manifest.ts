import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { z } from "zod";
import { ModelPackageError } from "../errors.js";
import { validateArchitecture } from "./architecture.js";
import type { TokenizerSpec } from "../../protocol/prompt/tokenizer.js";

/** File name of the manifest inside a model package directory (PROTOCOL §4.1). */
export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "stepproof.model.v1";

const hex32 = z.custom<Hex>((v) => typeof v === "string" && /^0x[0-9a-f]{64}$/.test(v), "expected 0x-prefixed lowercase bytes32");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected lowercase hex sha256");
const uint32 = z.number().int().min(0).max(0xffffffff);

const fileRef = z.object({ file: z.string().min(1), sha256 });

const architecture = z.object({
  layers: uint32,
  hidden: uint32,
  heads: uint32,
  kvHeads: uint32,
  ffn: uint32,
  vocab: uint32,
  context: uint32,
  normEpsBits: uint32,
  ropeTheta: uint32,
});

/** Graphs of one compute variant: embedding, one per block (1-based l ↦ blocks[l-1]), head. */
const graphSet = z.object({ embed: fileRef, blocks: z.array(fileRef).min(1), head: fileRef });

const tokenizer = z.discriminatedUnion("type", [
  // Byte-level: token b < 256 is byte b; specials follow.
  z.object({ type: z.literal("bytes"), bos: uint32, eos: uint32, pad: uint32 }),
  // Hugging Face tokenizer.json in the package, and its Jinja chat template if it has one; text is
  // handled at the edge (protocol/prompt/), the runtime only sees ids.
  z.object({ type: z.literal("hf"), file: z.string(), sha256, bos: uint32.nullable(), eos: uint32.nullable(), chatTemplate: fileRef.optional() }),
]);

/** Compile-time check that the schema's tokenizer is exactly the protocol's TokenizerSpec (both ways). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? A : never) : never;
export type ManifestTokenizer = Same<z.infer<typeof tokenizer>, TokenizerSpec>;
const tokenizerTypeMatches: ManifestTokenizer extends never ? false : true = true;
void tokenizerTypeMatches;

/** Layer-level re-execution thresholds (PROTOCOL §4.6), written by `npm run calibrate`. */
export const layerThresholdsSchema = z.object({
  maxAbs: z.number().positive(),
  relL2: z.number().positive(),
  margin: z.number().positive(),
  measured: z.object({ maxAbs: z.number().nonnegative(), relL2: z.number().nonnegative() }),
  setups: z.array(z.string()),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string().min(1),
  architecture: architecture.superRefine((a, ctx) => {
    try {
      validateArchitecture(a);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    }
  }),
  encoding: z.object({ traceDtype: z.union([z.literal(1), z.literal(2)]), weightsDtype: z.literal(1), chunkSize: uint32.min(1) }),
  tokenizer,
  weights: fileRef.extend({
    /** Byte offset of each committed tensor (PROTOCOL §3.5 order) inside the weights file. */
    tensors: z.array(z.object({ tensorId: uint32, name: z.string(), rows: uint32, rowLength: uint32, offset: z.number().int().nonnegative(), /** 2: binary32 (RoPE frequencies); absent: the weights dtype */ dtype: z.literal(2).optional() })),
  }),
  graphs: z.object({ f32: graphSet, f16: graphSet }),
  weightsRoot: hex32,
  modelId: hex32,
  thresholds: layerThresholdsSchema.optional(),
  source: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("generated"), seed: uint32, preset: z.string() }),
    z.object({ kind: z.literal("hf"), path: z.string(), modelType: z.string() }),
    // A llama2.c checkpoint, named by content (not path) so the same conversion is the same manifest.
    z.object({ kind: z.literal("llama2c"), checkpointSha256: sha256, tokenizerSha256: sha256 }),
  ]),
});

export type ModelManifest = z.infer<typeof manifestSchema>;
export type LayerThresholds = z.infer<typeof layerThresholdsSchema>;
export type GraphVariant = keyof ModelManifest["graphs"];

export async function readManifest(dir: string): Promise<ModelManifest> {
  let raw: string;
  try {
    raw = await readFile(join(dir, MANIFEST_FILE), "utf8");
  } catch (cause) {
    throw new ModelPackageError(`no model package at ${dir}`, { details: `cannot read ${MANIFEST_FILE}`, cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ModelPackageError(`manifest of ${dir} is not JSON`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new ModelPackageError(`manifest of ${dir} is invalid`, { details: parsed.error.message, cause: parsed.error });
  return parsed.data;
}
