import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chunkLeaf, WEIGHTS_DOMAIN } from "../../protocol/commitments/index.js";
import { LeafHasher, toHex } from "../../runtime/commit/fast-leaf.js";
import { ModelPackageError } from "../../runtime/errors.js";
import { BlockKind, tensorId, weightTensors } from "../../runtime/model/layout.js";
import { readManifest } from "../../runtime/model/manifest.js";
import { generateSyntheticModel, PRESETS } from "../../runtime/model/synthetic.js";
import { loadModelWeights, weightsLeafIndex, weightsTree, WeightsRootMismatchError } from "../../runtime/model/weights.js";
import { verifyProof } from "../../protocol/commitments/index.js";
import { modelDir, tempDir } from "./helpers.js";

describe("model package (PROTOCOL §3.5, §4.1)", () => {
  it("generates the tiny model identically from the same seed and differently from another", async () => {
    const a = await generateSyntheticModel({ preset: "tiny", dir: join(tempDir(), "a") });
    const b = await generateSyntheticModel({ preset: "tiny", dir: join(tempDir(), "b") });
    const c = await generateSyntheticModel({ preset: "tiny", dir: join(tempDir(), "c"), seed: 7 });
    expect(a.weightsRoot).toBe(b.weightsRoot);
    expect(a.weights.sha256).toBe(b.weights.sha256);
    expect(a.graphs.f32.blocks.map((g) => g.sha256)).toEqual(b.graphs.f32.blocks.map((g) => g.sha256));
    expect(c.weightsRoot).not.toBe(a.weightsRoot);
    expect(a.modelId).not.toBe(c.modelId);
    expect(a.architecture).toEqual(PRESETS.tiny.arch);
  });

  it("exposes committed tensors by output row and recomputes the cached weights root", async () => {
    const dir = await modelDir();
    const w = await loadModelWeights(dir, { verifyRoot: true });
    const a = w.manifest.architecture;
    const wk = w.tensor(tensorId(2, BlockKind.wk));
    expect([wk.rows, wk.rowLength]).toEqual([(a.kvHeads * a.hidden) / a.heads, a.hidden]);
    expect(w.tensor(tensorId(1, BlockKind.wdown)).rowLength).toBe(a.ffn);
    expect(() => w.tensor(tensorId(a.layers + 1, 1))).toThrow(RangeError);
    expect(weightTensors(a)).toHaveLength(3 + 9 * a.layers);
  });

  it("proves one weight chunk against the weights root with the shared leaf", async () => {
    const w = await loadModelWeights(await modelDir());
    const tree = weightsTree(w);
    const id = tensorId(3, BlockKind.wgate);
    const t = w.tensor(id);
    const C = w.manifest.encoding.chunkSize;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset + (5 * t.rowLength + C) * 2, C * 2);
    const leaf = chunkLeaf({ domain: WEIGHTS_DOMAIN, tensorId: id, row: 5, chunkIndex: 1 }, bytes);
    expect(toHex(new LeafHasher(WEIGHTS_DOMAIN).leaf(id, 5, 1, bytes))).toBe(leaf);
    const index = weightsLeafIndex(w, id, 5, 1);
    expect(tree.leaf(index)).toBe(leaf);
    expect(verifyProof(leaf, tree.proof(index), w.manifest.weightsRoot)).toBe(true);
    expect(verifyProof(leaf, tree.proof(index + 1), w.manifest.weightsRoot)).toBe(false);
  });

  it("rejects a tampered weights file and an invalid manifest", async () => {
    const dir = join(tempDir(), "t");
    await generateSyntheticModel({ preset: "tiny", dir });
    const manifest = await readManifest(dir);
    const bin = await readFile(join(dir, "weights.bin"));
    bin[manifest.weights.tensors[4]!.offset + 10]! ^= 1;
    await writeFile(join(dir, "weights.bin"), bin);
    await expect(loadModelWeights(dir, { verifyRoot: true })).rejects.toBeInstanceOf(WeightsRootMismatchError);
    await writeFile(join(dir, "manifest.json"), JSON.stringify({ ...manifest, architecture: { ...manifest.architecture, heads: 3 } }));
    await expect(readManifest(dir)).rejects.toBeInstanceOf(ModelPackageError);
  });
});
