import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { verifyProof } from "../../protocol/commitments/index.js";
import { generate } from "../../runtime/generate.js";
import { readManifest } from "../../runtime/model/manifest.js";
import { TraceStore, TraceStoreError, TraceStoreFullError } from "../../runtime/trace/store.js";
import { TraceReadError } from "../../runtime/trace/trace-reader.js";
import { JobTokenProofs } from "../../runtime/trace/token-proofs.js";
import { modelDir, tempDir } from "./helpers.js";

async function tracedJob(store: TraceStore, jobId: string, tokens = 6, now?: number) {
  const dir = await modelDir();
  const m = await readManifest(dir);
  const writer = store.begin(jobId, { layers: m.architecture.layers, hidden: m.architecture.hidden, chunkSize: m.encoding.chunkSize, dtype: m.encoding.traceDtype }, now);
  // As the prover's services do: a trace that fails to generate or to seal is deleted.
  try {
    const r = await generate({ modelDir: dir, promptTokens: [256, 5, 6, 7], maxNewTokens: tokens, samplingParams: 0n, trace: true, stopAtEos: false, traceSink: writer });
    writer.complete(r.trace!);
    return r;
  } catch (err) {
    writer.abort();
    throw err;
  }
}

describe("disk trace store (PROTOCOL §4.5)", () => {
  it("serves the same rows and proofs after a restart", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const r = await tracedJob(store, "job-1");
    const used = store.usedBytes;
    expect(used).toBeGreaterThan(0);

    const reopened = TraceStore.open({ dir, maxBytes: 10_000_000 });
    expect(reopened.usedBytes).toBe(used);
    expect(reopened.jobIds()).toEqual(["job-1"]);
    const t = reopened.read("job-1");
    expect(t.root).toBe(r.trace!.root);
    expect(t.tokens).toEqual(r.tokens);
    for (const [pos, layer, chunk] of [[0, 0, 0], [3, 2, 1], [r.tokens.length - 2, 4, 1]] as const) {
      expect(Array.from(t.hiddenRow(pos, layer))).toEqual(Array.from(r.trace!.hiddenRow(pos, layer)));
      const p = t.hiddenProof(pos, layer, chunk);
      expect(p).toEqual(r.trace!.hiddenProof(pos, layer, chunk));
      expect(verifyProof(p.leaf, p.proof, t.root)).toBe(true);
    }
    expect(verifyProof(t.tokenProof(2).leaf, t.tokenProof(2).proof, t.root)).toBe(true);
  });

  it("writes a position once all its boundaries came, and refuses to seal a trace with a partial position", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const good = await tracedJob(store, "whole", 3);
    const layout = good.trace!.layout;
    const writer = store.begin("partial", { layers: layout.layers, hidden: layout.hidden, chunkSize: layout.chunkSize, dtype: layout.dtype });
    const rowBytes = layout.hidden * 2;
    // Every boundary of position 0 but the last: nothing reaches the file yet.
    for (let l = 0; l < layout.layers; l++) writer.appendRows(l, 0, good.trace!.hiddenRow(0, l), 1);
    expect(readFileSync(join(dir, "partial", "hidden.bin")).byteLength).toBe(0);
    writer.appendRows(layout.layers, 0, good.trace!.hiddenRow(0, layout.layers), 1);
    const written = readFileSync(join(dir, "partial", "hidden.bin"));
    expect(written.byteLength).toBe((layout.layers + 1) * rowBytes);
    const row = good.trace!.hiddenRow(0, 2);
    expect(Buffer.from(written.subarray(2 * rowBytes, 3 * rowBytes)).equals(Buffer.from(row.buffer, row.byteOffset, row.byteLength))).toBe(true);
    // A row written again after its position reached the file replaces it there (last write wins).
    const other = good.trace!.hiddenRow(1, 2);
    writer.appendRows(2, 0, other, 1);
    const rewritten = readFileSync(join(dir, "partial", "hidden.bin"));
    expect(rewritten.byteLength).toBe((layout.layers + 1) * rowBytes);
    expect(Buffer.from(rewritten.subarray(2 * rowBytes, 3 * rowBytes)).equals(Buffer.from(other.buffer, other.byteOffset, other.byteLength))).toBe(true);
    // Position 1 lacks its last boundary: sealing must not store a trace with a hole.
    for (let l = 0; l < layout.layers; l++) writer.appendRows(l, 1, good.trace!.hiddenRow(1, l), 1);
    expect(() => writer.complete(good.trace!)).toThrow(/positions have only some of their rows \(first: 1\)/);
  });

  it("refuses to serve an unfinished job and lets retention remove it", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000, retentionMs: 1000 });
    store.begin("crashed", { layers: 4, hidden: 64, chunkSize: 32, dtype: 1 }, 0);
    const reopened = TraceStore.open({ dir, maxBytes: 10_000_000, retentionMs: 1000 });
    expect(() => reopened.read("crashed")).toThrow(TraceStoreError);
    expect(reopened.prune(999)).toEqual([]);
    expect(reopened.prune(1000)).toEqual(["crashed"]);
    expect(reopened.usedBytes).toBe(0);
    expect(() => reopened.begin("../escape", { layers: 1, hidden: 1, chunkSize: 1, dtype: 1 })).toThrow(/invalid job id/);
  });

  it("prunes settled jobs after the grace period and keeps the others", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000, settledGraceMs: 500 });
    await tracedJob(store, "a", 3);
    await tracedJob(store, "b", 3);
    store.markSettled("a", 10_000);
    expect(store.prune(10_100)).toEqual([]);
    expect(store.prune(10_500)).toEqual(["a"]);
    expect(existsSync(join(dir, "a"))).toBe(false);
    expect(store.read("b").tokens).toHaveLength(7);
  });

  it("throws TraceStoreFullError when the disk budget would be exceeded", async () => {
    const dir = tempDir();
    // One tiny job of 4+8 tokens needs 11·5·128 bytes of rows plus leaves and meta.
    const store = TraceStore.open({ dir, maxBytes: 5_000 });
    const err = await tracedJob(store, "big", 8).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TraceStoreFullError);
    expect((err as TraceStoreFullError).maxBytes).toBe(5_000);
    expect(store.usedBytes).toBe(0); // the aborted job is gone
    expect(existsSync(join(dir, "big"))).toBe(false);
  });

  it("holds room for admitted jobs: a hold covers its trace, others cannot write into it, and what is left comes back", async () => {
    const m = await readManifest(await modelDir());
    const layout = { layers: m.architecture.layers, hidden: m.architecture.hidden, chunkSize: m.encoding.chunkSize, dtype: m.encoding.traceDtype };
    // tracedJob: 4 prompt tokens + 6 = 10 tokens. The bound covers what a trace takes, without much to spare.
    const need = TraceStore.traceBytes(layout, 10);
    const probe = TraceStore.open({ dir: tempDir(), maxBytes: 10_000_000 });
    await tracedJob(probe, "p");
    expect(need).toBeGreaterThanOrEqual(probe.usedBytes);
    expect(need).toBeLessThan(1.5 * probe.usedBytes);

    // Room for one trace and a half: the first hold fits, a second is refused while nothing was written.
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: Math.floor(1.5 * need) });
    store.hold("a", need);
    expect(store.heldBytes).toBe(need);
    const refused = (() => {
      try {
        store.hold("b", need);
      } catch (e) {
        return e;
      }
    })();
    expect(refused).toBeInstanceOf(TraceStoreFullError);
    expect((refused as TraceStoreFullError).heldBytes).toBe(need);
    expect(store.usedBytes).toBe(0);
    // A job without a hold cannot use the room held for "a" (its trace needs more than is left).
    await expect(tracedJob(store, "intruder")).rejects.toBeInstanceOf(TraceStoreFullError);
    expect(store.usedBytes).toBe(0);
    // "a" writes its whole trace out of its hold; completion gives back what is left.
    await tracedJob(store, "a");
    expect(store.heldBytes).toBe(0);
    expect(store.read("a").tokens).toHaveLength(10);
    // A released hold frees its room: hold, release, hold again.
    store.hold("c", store.options.maxBytes - store.usedBytes);
    expect(() => store.hold("d", 1)).toThrow(TraceStoreFullError);
    store.release("c");
    store.hold("d", 1);
    store.release("d");
    store.release("never-held"); // no-op
    // One hold per job: a second request for the same job cannot take over the first's room.
    store.hold("e", 10);
    expect(() => store.hold("e", 10)).toThrow(/job e already holds room/);
    expect(store.heldBytes).toBe(10);
    store.release("e");
    expect(store.heldBytes).toBe(0);
    expect(() => store.hold("f", Number.NaN)).toThrow(RangeError);
    expect(() => store.hold("f", -1)).toThrow(RangeError);
    // A full store still records settlement (its meta grows by a timestamp), so the settled trace is pruned.
    store.hold("g", store.options.maxBytes - store.usedBytes);
    store.markSettled("a", 1_000);
    store.release("g");
    expect(store.prune(1_000)).toEqual(["a"]);
  });
});

describe("trace reads cost what they return (issue #15)", () => {
  it("serves every hidden chunk and token with the proofs the full trace gives, from tree.bin", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const r = await tracedJob(store, "j", 5);
    const full = r.trace!;
    const reader = TraceStore.open({ dir, maxBytes: 10_000_000 }).reader("j");
    const n = full.tokens.length;
    for (let t = 0; t <= n - 2; t++) {
      for (let l = 0; l <= full.layout.layers; l++) {
        const chunks = reader.hiddenChunks(t, l);
        expect(chunks).toHaveLength(full.layout.chunksPerRow);
        chunks.forEach((c, i) => expect(c).toEqual(full.hiddenProof(t, l, i)));
      }
    }
    const tokens = new JobTokenProofs(full.tokens, 4);
    for (let t = 0; t < n; t++) expect(reader.tokenProof(t, 4)).toEqual(tokens.proof(t));
    expect(() => reader.hiddenChunks(n - 1, 0)).toThrow(RangeError);
  });

  it("reads only the leaves it proves: a leaf corrupted elsewhere is refused, intact ones still served", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const r = await tracedJob(store, "k", 5);
    const full = r.trace!;
    // Flip a byte of the last hidden leaf on disk. A reader that re-read and re-hashed every
    // leaf per request (the old store.read) would refuse every request of the job.
    const last = full.layout.hiddenLeafIndex(full.tokens.length - 2, full.layout.layers, full.layout.chunksPerRow - 1, full.tokens.length);
    const file = join(dir, "k", "leaves.bin");
    const bytes = readFileSync(file);
    bytes[32 * last] = bytes[32 * last]! ^ 0xff;
    writeFileSync(file, bytes);
    const reader = TraceStore.open({ dir, maxBytes: 10_000_000 }).reader("k");
    expect(reader.hiddenChunks(0, 0)[0]).toEqual(full.hiddenProof(0, 0, 0));
    expect(() => reader.hiddenChunks(full.tokens.length - 2, full.layout.layers)).toThrow(TraceReadError);
  });

  it("writes tree.bin once for a trace stored without it (an older store)", async () => {
    const dir = tempDir();
    const store = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const r = await tracedJob(store, "old", 3);
    rmSync(join(dir, "old", "tree.bin"));
    const reopened = TraceStore.open({ dir, maxBytes: 10_000_000 });
    const before = reopened.usedBytes;
    expect(reopened.reader("old").hiddenChunks(1, 2)[1]).toEqual(r.trace!.hiddenProof(1, 2, 1));
    expect(existsSync(join(dir, "old", "tree.bin"))).toBe(true);
    expect(reopened.usedBytes).toBeGreaterThan(before);
  });
});
