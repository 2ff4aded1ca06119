import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { mkdir, open, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { encodeAbiParameters, keccak256, type Hex } from "viem";
import { WEIGHTS_DOMAIN } from "../../protocol/commitments/index.js";
import { merkleRootPacked } from "../commit/fast-tree.js";
import { HashPool } from "../commit/hash-pool.js";
import { OnnxType } from "../onnx/builder.js";
import { buildBlockGraph, buildEmbedGraph, buildHeadGraph, type ComputeDtype, type GraphParams } from "../onnx/llama-graphs.js";
import type { Architecture } from "./architecture.js";
import { validateArchitecture } from "./architecture.js";
import { weightTensors, type TensorSpec } from "./layout.js";
import { MANIFEST_FILE, MANIFEST_FORMAT, manifestSchema, type ModelManifest } from "./manifest.js";

export const WEIGHTS_FILE = "weights.bin";
export type TensorData = Uint16Array | Float32Array;
/** Tensors start on 4 KiB boundaries so onnxruntime can map external data directly. */
const ALIGN = 4096;
/** Rows per hashing job: ~1 MiB, enough to amortize a worker message. */
const ROWS_PER_JOB_BYTES = 1 << 20;
const MAX_QUEUED_BYTES = 256 << 20;

export type WritePackageParameters = {
  dir: string;
  name: string;
  arch: Architecture;
  encoding: ModelManifest["encoding"];
  tokenizer: ModelManifest["tokenizer"];
  source: ModelManifest["source"];
  /**
   * A committed tensor in output-row layout, rows × rowLength: binary16 bits (Uint16Array), or
   * binary32 values (Float32Array) for the tensors whose spec says dtype 2 (RoPE frequencies).
   */
  tensorData: (spec: TensorSpec) => TensorData | Promise<TensorData>;
  onTensor?: (spec: TensorSpec, index: number, total: number) => void;
  /** Writes the package's other files (tokenizer) before the manifest marks it complete. */
  beforeManifest?: () => Promise<void>;
};

/** modelId = keccak256(abi.encode(string format, string name, bytes32 weightsRoot)), PROTOCOL §4.1. */
export function computeModelId(name: string, weightsRoot: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: "string" }, { type: "string" }, { type: "bytes32" }], [MANIFEST_FORMAT, name, weightsRoot]));
}

/**
 * Write a complete model package: weights.bin in committed layout (which is also the ONNX
 * external data, so there is one copy of the weights), graphs for both compute variants,
 * and the manifest with the weights root computed while writing.
 */
export async function writeModelPackage(p: WritePackageParameters): Promise<ModelManifest> {
  validateArchitecture(p.arch);
  await mkdir(p.dir, { recursive: true });
  await rm(join(p.dir, MANIFEST_FILE), { force: true }); // a package without manifest is incomplete
  const specs = weightTensors(p.arch);
  // Leaves are hashed on worker threads while the next tensor is drawn and written.
  const pool = new HashPool(Math.max(1, availableParallelism()));
  const leafBlocks: Promise<Uint8Array>[] = [];
  let queuedBytes = 0; // data handed to workers and not yet awaited (bounded: 8B models are 16 GB)
  const fileHash = createHash("sha256");
  const tensors: ModelManifest["weights"]["tensors"] = [];
  const fh = await open(join(p.dir, WEIGHTS_FILE), "w");
  let offset = 0;
  try {
    for (const [i, spec] of specs.entries()) {
      const data = await p.tensorData(spec);
      if (data.length !== spec.rows * spec.rowLength) throw new RangeError(`${spec.name}: expected ${spec.rows * spec.rowLength} elements, got ${data.length}`);
      if ((data instanceof Float32Array ? 2 : 1) !== spec.dtype) throw new RangeError(`${spec.name}: expected ${spec.dtype === 2 ? "binary32" : "binary16"} data`);
      const size = data.BYTES_PER_ELEMENT;
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad > 0) {
        const zeros = new Uint8Array(pad);
        await fh.write(zeros);
        fileHash.update(zeros);
        offset += pad;
      }
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      await fh.write(bytes);
      fileHash.update(bytes);
      // The manifest names the dtype only where it is not the weights dtype (binary16).
      tensors.push({ tensorId: spec.tensorId, name: spec.name, rows: spec.rows, rowLength: spec.rowLength, offset, ...(spec.dtype === 2 ? { dtype: 2 as const } : {}) });
      offset += bytes.byteLength;
      const rowBytes = spec.rowLength * size;
      const block = Math.max(1, Math.floor(ROWS_PER_JOB_BYTES / rowBytes));
      for (let r = 0; r < spec.rows; r += block) {
        const rows = Math.min(block, spec.rows - r);
        queuedBytes += rows * rowBytes;
        leafBlocks.push(pool.leaves({ domain: WEIGHTS_DOMAIN, tensorId: spec.tensorId, firstRow: r, rows, rowBytes, chunkBytes: p.encoding.chunkSize * size, data: bytes.subarray(r * rowBytes, (r + rows) * rowBytes) }));
      }
      if (queuedBytes > MAX_QUEUED_BYTES) {
        await Promise.all(leafBlocks);
        queuedBytes = 0;
      }
      p.onTensor?.(spec, i, specs.length);
    }
  } catch (err) {
    await pool.close();
    throw err;
  } finally {
    await fh.close();
  }
  let weightsRoot: Hex;
  try {
    weightsRoot = merkleRootPacked(await Promise.all(leafBlocks));
  } finally {
    await pool.close();
  }
  const byId = new Map(tensors.map((t) => [t.tensorId, t]));
  const weightRef = (id: number) => {
    const t = byId.get(id);
    if (!t) throw new RangeError(`no tensor ${id}`);
    return { location: WEIGHTS_FILE, offset: t.offset, length: t.rows * t.rowLength * (t.dtype === 2 ? 4 : 2) };
  };
  const graphs = {} as ModelManifest["graphs"];
  for (const compute of ["f32", "f16"] as ComputeDtype[]) {
    const gp: GraphParams = { arch: p.arch, compute, io: p.encoding.traceDtype === 1 ? OnnxType.FLOAT16 : OnnxType.FLOAT, weightRef };
    const put = async (file: string, bytes: Uint8Array) => {
      await writeFile(join(p.dir, file), bytes);
      return { file, sha256: createHash("sha256").update(bytes).digest("hex") };
    };
    const blocks = [];
    for (let l = 1; l <= p.arch.layers; l++) blocks.push(await put(`block${l}.${compute}.onnx`, buildBlockGraph(gp, l)));
    graphs[compute] = { embed: await put(`embed.${compute}.onnx`, buildEmbedGraph(gp)), blocks, head: await put(`head.${compute}.onnx`, buildHeadGraph(gp)) };
  }
  const manifest = manifestSchema.parse({
    format: MANIFEST_FORMAT,
    name: p.name,
    architecture: p.arch,
    encoding: p.encoding,
    tokenizer: p.tokenizer,
    weights: { file: WEIGHTS_FILE, sha256: fileHash.digest("hex"), tensors },
    graphs,
    weightsRoot,
    modelId: computeModelId(p.name, weightsRoot),
    source: p.source,
  } satisfies ModelManifest);
  await p.beforeManifest?.();
  // Manifest last and atomically-enough: its presence marks a complete package.
  await writeFile(join(p.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
