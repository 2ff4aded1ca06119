/**
 * The serving session's worker thread (runtime/serve/serve-worker.ts): a forward pass runs off
 * the main thread with the same outputs, a bad pass rejects with onnxruntime's reason and leaves
 * the session usable, and a dead or released worker rejects passes instead of leaving them
 * waiting forever.
 */
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { ContinuousBatcher } from "../../runtime/serve/batcher.js";
import { KvSlots } from "../../runtime/serve/kv-slots.js";
import { ServeSession, serveGraphBytes, serveSessionOptions } from "../../runtime/serve/serve-session.js";
import { ServeWorker, ServeWorkerError } from "../../runtime/serve/serve-worker.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { modelDir } from "./helpers.js";

/** One decode pass's inputs: a sequence with `cached` positions (zero keys and values), at position `cached`. */
function decodeFeeds(session: ServeSession, cached: number): Record<string, ort.Tensor> {
  const kv = new KvSlots(session.manifest.architecture, "f32", 2 ** 24, 1);
  kv.add(cached + 1);
  kv.lengths[0] = cached;
  const T = kv.cap + 1;
  const keyPositions = BigInt64Array.from({ length: T }, (_, i) => (i < cached ? BigInt(i) : i === kv.cap ? BigInt(cached) : 1n << 40n));
  const feeds: Record<string, ort.Tensor> = {
    tokens: new ort.Tensor("int64", BigInt64Array.from([65n]), [1, 1]),
    positions: new ort.Tensor("int64", BigInt64Array.from([BigInt(cached)]), [1, 1]),
    key_positions: new ort.Tensor("int64", keyPositions, [1, T]),
  };
  kv.feeds(1, feeds);
  return feeds;
}

describe("serving worker (PROTOCOL §4.2 Serving)", () => {
  afterAll(releaseAllSessions);

  it("runs a pass off the main thread with the outputs a session on this thread gives, the KV cache shared, not copied", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const feeds = decodeFeeds(session, 3);
    expect((feeds["past_key_1"]!.data as Float32Array).buffer).toBeInstanceOf(SharedArrayBuffer);
    const out = await session.run(feeds);
    // The same graph and options in a session on this thread: the worker changes nothing.
    const local = await ort.InferenceSession.create(serveGraphBytes(session.manifest, "f32"), serveSessionOptions(dir, session.config));
    const ref = await local.run(decodeFeeds(session, 3));
    for (const name of local.outputNames) expect(Array.from(out[name]!.data as Float32Array), name).toEqual(Array.from(ref[name]!.data as Float32Array));
    await local.release();
    expect(out["logits"]!.dims).toEqual([1, session.manifest.architecture.vocab]);
    await session.release();
  });

  it("starting a worker leaves the caller's graph bytes whole, a Buffer's included", async () => {
    // A Buffer's slice() is a view: transferring it to the worker detached the caller's bytes.
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const bytes = Buffer.from(serveGraphBytes(session.manifest, "f32"));
    const length = bytes.byteLength;
    const workers = [await ServeWorker.start(bytes, serveSessionOptions(dir, session.config)), await ServeWorker.start(bytes, serveSessionOptions(dir, session.config))];
    expect(bytes.byteLength).toBe(length);
    for (const w of workers) await w.release();
    await session.release();
  });

  it("a graph onnxruntime cannot load rejects start() with onnxruntime's reason, not the thread's exit", async () => {
    // The worker posts the reason and then exits; the exit must not hide the reason.
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    for (let i = 0; i < 5; i++) {
      const err = await ServeWorker.start(Uint8Array.from([8, 7, 1, 2, 3]), serveSessionOptions(dir, session.config)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).not.toMatch(/exited|worker woke/);
      expect((err as Error).message).toMatch(/protobuf|parse|model|load/i);
    }
    await session.release();
  });

  it("release() queued behind a pass, then terminate(): the thread ends after the pass, the process lives", async () => {
    const dir = await modelDir();
    for (let i = 0; i < 6; i++) {
      const session = await ServeSession.load(dir, { threads: 2 });
      await session.run(decodeFeeds(session, 4));
      const pass = session.run(decodeFeeds(session, 4)).catch((e: unknown) => e);
      const released = session.release();
      await session.worker.terminate("killed by the test");
      await released;
      expect(await pass).toBeInstanceOf(ServeWorkerError);
    }
  });

  it("rejects a pass onnxruntime refuses with its reason, and serves the next one", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const bad = decodeFeeds(session, 2);
    bad["tokens"] = new ort.Tensor("float32", Float32Array.from([65]), [1, 1]); // the graph takes int64 ids
    const err = await session.run(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServeWorkerError);
    expect((err as Error).message).toMatch(/forward pass failed: .*(tokens|type)/i);
    const out = await session.run(decodeFeeds(session, 2));
    expect(out["logits"]!.dims).toEqual([1, session.manifest.architecture.vocab]);
    await session.release();
  });

  it("rejects the pass in flight and every later one when the worker dies, and after release", async () => {
    const dir = await modelDir();
    const session = await ServeSession.load(dir, { threads: 1 });
    const inFlight = session.run(decodeFeeds(session, 4));
    await session.worker.terminate("killed by the test");
    await expect(inFlight).rejects.toBeInstanceOf(ServeWorkerError);
    await expect(session.run(decodeFeeds(session, 4))).rejects.toThrow(/killed by the test/);
    // A batcher on a dead session fails its request with that error instead of hanging.
    await expect(new ContinuousBatcher(session).submit({ promptTokens: [256, 65], maxNewTokens: 2, samplingParams: 0n, trace: false })).rejects.toBeInstanceOf(ServeWorkerError);

    const other = await ServeSession.load(dir, { threads: 1 });
    await other.release();
    await expect(other.run(decodeFeeds(other, 1))).rejects.toThrow(/released/);
  });

  it("rejects a pending pass whose answer raced the terminate onto the port", async () => {
    // A fresh-clone CI run saw the pass in flight resolve after terminate(): the worker had
    // answered before the main thread looked. Blocking the main thread while the pass runs makes
    // that happen every time; the caller still waits on the pass, so it must reject. (The pass
    // is posted at once although the one before resolved just now: nothing queues it behind it.)
    const dir = await modelDir();
    for (let round = 0; round < 3; round++) {
      const session = await ServeSession.load(dir, { threads: 1 });
      await session.run(decodeFeeds(session, 4));
      const inFlight = session.run(decodeFeeds(session, 4)).then(
        () => "resolved",
        (e: unknown) => (e as Error).message,
      );
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200); // the worker answers meanwhile
      await session.worker.terminate("killed by the test");
      expect(await inFlight).toMatch(/killed by the test/);
    }
  });

  it("terminating a worker in the middle of a pass, again and again, does not abort the process", async () => {
    // onnxruntime's binding aborts the whole process (a C++ Napi::Error) when a pass returns into
    // a thread being terminated: terminate() ends the thread only after its pass has returned.
    // Before that fix this loop killed the test process with SIGABRT within a few rounds.
    const dir = await modelDir();
    let rejected = 0;
    for (let i = 0; i < 24; i++) {
      const session = await ServeSession.load(dir, { threads: 2 });
      await session.run(decodeFeeds(session, 4));
      const pass = session.run(decodeFeeds(session, 4)).then(
        () => "ran",
        (e: unknown) => (e instanceof ServeWorkerError ? "rejected" : "other"),
      );
      // Every fourth kill in the same turn as the request (the pass certainly in flight, so it
      // must reject); the others a 0-2 ms timer later, wherever the pass has got to.
      if (i % 4 > 0) await new Promise((r) => setTimeout(r, (i % 4) - 1));
      await session.worker.terminate("killed by the test");
      const outcome = await pass;
      expect(outcome).not.toBe("other");
      if (outcome === "rejected") rejected++;
      else expect(i % 4).toBeGreaterThan(0);
    }
    expect(rejected).toBeGreaterThanOrEqual(6);
  });
});
