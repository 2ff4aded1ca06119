import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { StepproofRuntimeError } from "../errors.js";

/**
 * The serving session's onnxruntime session, owned by a worker thread (PROTOCOL §4.2 "Serving").
 *
 * onnxruntime-node runs a session synchronously on the thread that calls `run` (its promise
 * only defers the call to the next turn). On the main thread a pass would block everything
 * else for its whole length: trace hashing, sampling, HTTP and every chain round trip a job
 * makes would wait for it, and add to each step. In a worker, the pass computes while the main
 * thread does that work.
 *
 * A pass is a request on a MessagePort that nobody listens to, announced by bumping a shared
 * counter: the worker wakes from `Atomics.waitAsync`, takes the message with
 * `receiveMessageOnPort`, runs, replies the same way. Port messages alone wake a thread through
 * the event loop, which cost 0.4–0.8 ms per pass on this project's machines; the counters cost
 * about 0.06 ms. Inputs on a SharedArrayBuffer (the KV cache, runtime/serve/kv-slots.ts) reach
 * the worker without a copy; the others are a few kilobytes. Outputs come back by transferring
 * their buffers. The worker is plain JavaScript (eval) so it runs the same under tsx, vitest
 * and node, like the hash pool's.
 */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const ort = require(workerData.ortPath);
const { port, control } = workerData;
const describe = (e) => ({ message: String((e && e.message) || e), stack: e && e.stack });
const reply = (message, transfer) => {
  port.postMessage(message, transfer);
  // control[2] counts only this thread's answers to requests (control[1] is also bumped by the
  // main thread to wake a waiter when the worker dies): terminate() waits on it.
  if (message.kind !== "loaded") {
    Atomics.add(control, 2, 1);
    Atomics.notify(control, 2);
  }
  Atomics.add(control, 1, 1);
  Atomics.notify(control, 1);
};
// A pending Atomics.waitAsync does not keep a thread's event loop alive; this does, until release.
const alive = setInterval(() => {}, 1 << 30);
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.model, workerData.options);
  } catch (e) {
    clearInterval(alive);
    return reply({ kind: "loaded", error: describe(e) }, []);
  }
  reply({ kind: "loaded" }, []);
  for (let seen = 0; ; ) {
    const wait = Atomics.waitAsync(control, 0, seen);
    if (wait.async) await wait.value;
    seen = Atomics.load(control, 0);
    const m = receiveMessageOnPort(port).message;
    if (m.kind === "release") {
      await session.release().catch(() => {});
      clearInterval(alive);
      return reply({ kind: "released" }, []);
    }
    try {
      const feeds = {};
      for (const name in m.feeds) { const f = m.feeds[name]; feeds[name] = new ort.Tensor(f.type, f.data, f.dims); }
      const out = await session.run(feeds);
      const outputs = {};
      const transfer = new Set();
      for (const name in out) {
        const t = out[name];
        outputs[name] = { type: t.type, dims: t.dims, data: t.data };
        if (!(t.data.buffer instanceof SharedArrayBuffer)) transfer.add(t.data.buffer);
      }
      reply({ kind: "ran", outputs }, [...transfer]);
    } catch (e) {
      reply({ kind: "ran", error: describe(e) }, []);
    }
  }
})();
`;

export class ServeWorkerError extends StepproofRuntimeError {
  override name = "ServeWorkerError";
}

type WireTensor = { type: ort.Tensor.Type; dims: readonly number[]; data: ort.Tensor.DataType };
type Reply = { kind: "loaded" | "ran" | "released"; error?: { message: string; stack?: string }; outputs?: Record<string, WireTensor> };

/** control[0]: requests sent; control[1]: replies (bumped by the worker, or by #die to wake a waiter); control[2]: requests the worker answered. */
const RELEASED = "the serving session was released";
const REQUESTS = 0;
const REPLIES = 1;
const ANSWERED = 2;

const ortPath = createRequire(import.meta.url).resolve("onnxruntime-node");

/** Atomics.waitAsync (Node ≥ 16; the project's TypeScript lib predates its typing). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> } }).waitAsync;

export class ServeWorker {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #control: Int32Array;
  /** A request is on the worker; later ones wait in #backlog, in order. */
  #busy = false;
  readonly #backlog: (() => void)[] = [];
  /** Why the worker can take no more passes (it exited, failed or was released). */
  #dead: ServeWorkerError | undefined;
  /** release() was asked: the worker's exit that follows is the release, not a failure. */
  #releasing = false;
  /** The thread has exited (it answers nothing more). */
  #exited = false;
  /** Reasons the process must stay alive for this worker (a pass in flight, a terminate waiting on one). */
  #keepAlive = 0;

  private constructor(worker: Worker, port: MessagePort, control: Int32Array) {
    this.#worker = worker;
    this.#port = port;
    this.#control = control;
  }

  /** Start a worker and create the session from the model's bytes; rejects with onnxruntime's reason. */
  static async start(graph: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ServeWorker> {
    const model = new Uint8Array(graph); // a copy (a Buffer's slice() is a view): transferring it detaches nothing else
    const { port1, port2 } = new MessageChannel();
    const control = new Int32Array(new SharedArrayBuffer(12));
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, model, options, port: port2, control }, transferList: [port2, model.buffer as ArrayBuffer] });
    const self = new ServeWorker(worker, port1, control);
    worker.on("error", (err) => self.#die(new ServeWorkerError("the serving worker failed", { cause: err })));
    worker.on("exit", (code) => {
      self.#exited = true;
      self.#die(new ServeWorkerError(self.#releasing ? RELEASED : `the serving worker exited (code ${code})`));
    });
    const loaded = await self.#reply(0);
    if (loaded.error) {
      await worker.terminate();
      throw Object.assign(new Error(loaded.error.message), { stack: loaded.error.stack });
    }
    worker.unref(); // an idle session does not keep the process alive
    return self;
  }

  /** One forward pass on the worker; resolves with its outputs (buffers now owned here). */
  run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.#serialised(() => this.#run(feeds));
  }

  /**
   * Run `task` after the requests before it; when none is in flight it starts now, so a pass is
   * posted before the caller's next synchronous work (the batcher hashes right after asking).
   * "In flight" ends in the first reaction to the task's promise, before the caller's own: a pass
   * asked for as soon as the previous one resolved is posted at once, not a few microtasks later.
   */
  #serialised<T>(task: () => Promise<T>): Promise<T> {
    if (!this.#busy) return this.#begin(task);
    return new Promise<T>((resolve, reject) => this.#backlog.push(() => void this.#begin(task).then(resolve, reject)));
  }

  #begin<T>(task: () => Promise<T>): Promise<T> {
    this.#busy = true;
    let result: Promise<T>;
    try {
      result = task();
    } catch (err) {
      result = Promise.reject(err);
    }
    const done = () => {
      this.#busy = false;
      this.#backlog.shift()?.();
    };
    result.then(done, done);
    return result;
  }

  async #run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    const wire: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds)) wire[name] = { type: t.type, dims: t.dims, data: t.data };
    const m = await this.#request({ kind: "run", feeds: wire });
    // Checked here, after the last await before the caller's: the reply can be read at once, in
    // the same synchronous turn as the request (a main thread descheduled between posting and
    // waiting lets the worker answer first), before a terminate() that comes later in that turn.
    if (this.#dead) throw this.#dead;
    if (m.error) throw new ServeWorkerError(`the forward pass failed: ${m.error.message}`, { cause: Object.assign(new Error(m.error.message), { stack: m.error.stack }) });
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(m.outputs ?? {})) out[name] = new ort.Tensor(t.type, t.data as never, t.dims);
    return out;
  }

  /** Release the session and end the worker. */
  async release(): Promise<void> {
    if (this.#dead) return;
    this.#releasing = true;
    await this.#serialised(() => this.#request({ kind: "release" })).catch(() => {});
    this.#die(new ServeWorkerError(RELEASED));
    // A terminate() while the release waited in the queue rejected it at once, with a pass
    // perhaps still running: the thread ends only once that pass has returned.
    await this.#endThread();
  }

  /**
   * End the worker: the pass in flight and every later one reject now. The thread itself is
   * terminated once it has returned from the pass it is in: onnxruntime's binding treats a call
   * into a terminating thread's environment as fatal and aborts the whole process (seen as a
   * SIGABRT of a test process that terminated a worker mid-pass), and a pass cannot be
   * interrupted anyway.
   */
  async terminate(reason = "the serving worker was terminated"): Promise<void> {
    this.#die(new ServeWorkerError(reason));
    await this.#endThread();
  }

  /** Terminate the thread once it has answered every request sent (or has exited). */
  async #endThread(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
    this.#keep(); // a pending waitAsync keeps nothing alive: the process must not exit mid-pass
    try {
      for (;;) {
        const answered = Atomics.load(this.#control, ANSWERED);
        if (answered >= Atomics.load(this.#control, REQUESTS) || this.#exited) break;
        const wait = waitAsync(this.#control, ANSWERED, answered);
        if (wait.async) await Promise.race([wait.value, exited]);
      }
      await this.#worker.terminate();
    } finally {
      this.#letGo();
    }
  }


  async #request(message: object): Promise<Reply> {
    if (this.#dead) throw this.#dead;
    const replies = Atomics.load(this.#control, REPLIES);
    try {
      this.#port.postMessage(message);
    } catch (err) {
      throw new ServeWorkerError("cannot send the inputs to the serving worker", { cause: err });
    }
    Atomics.add(this.#control, REQUESTS, 1);
    Atomics.notify(this.#control, REQUESTS);
    this.#keep(); // a pass in flight keeps the process alive
    try {
      return await this.#reply(replies);
    } finally {
      this.#letGo();
    }
  }

  /** The reply after `replies` replies (the worker, or #die, bumps the counter). */
  async #reply(replies: number): Promise<Reply> {
    const wait = waitAsync(this.#control, REPLIES, replies);
    if (wait.async) await wait.value;
    // A reply on the port is returned even when the worker has died since: a load failure's
    // reason arrives just before the thread exits (#run applies terminate()'s promise itself).
    const m = receiveMessageOnPort(this.#port)?.message as Reply | undefined;
    if (m) return m;
    throw new ServeWorkerError("the serving worker woke without a reply");
  }

  /** ref()/unref() are a switch, not a count: two holders (a request, a terminate) count here. */
  #keep(): void {
    if (this.#keepAlive++ === 0) this.#worker.ref();
  }
  #letGo(): void {
    if (--this.#keepAlive === 0) this.#worker.unref();
  }

  #die(reason: ServeWorkerError): void {
    if (this.#dead) return;
    this.#dead = reason;
    // Wake a waiting request: it finds no reply and rejects with the reason.
    Atomics.add(this.#control, REPLIES, 1);
    Atomics.notify(this.#control, REPLIES);
  }
}
