import * as ort from "onnxruntime-node";
import { readManifest, type GraphVariant, type ModelManifest } from "../model/manifest.js";
import { OnnxType } from "../onnx/builder.js";
import { buildServeGraph } from "../onnx/serve-graph.js";
import { availableExecutionProviders, ExecutionProviderUnavailableError, onnxSessionOptions, SessionLoadError, type ExecutionProvider, type GraphOptimizationLevel } from "../session.js";
import { ServeWorker } from "./serve-worker.js";
import { defaultThreads } from "./threads.js";

/** How the serving graph runs (PROTOCOL §4.2 "Serving"). */
export type ServeSessionConfig = {
  /** Default "cpu". */
  executionProvider?: ExecutionProvider;
  /** Intra-op threads of the one session; default: every core of the machine (runtime/serve/threads.ts). */
  threads?: number;
  /**
   * Whether idle pool threads busy-wait for the next operator (onnxruntime's default). Default
   * true: a prover's serving session is its machine's main work, and with blocking threads
   * every operator of a pass paid a thread wake-up (bench:serve --spinning off|on, stories15M
   * traced on 2 cores: 128.9 vs 139.8 tok/s single stream, 586.4 vs 621.6 at 8 jobs). Turn it off where the cores are
   * shared with other busy work: spinning threads then take time slices the others need
   * (measured 45 vs 78 tok/s on 2 cores loaded by other processes).
   */
  spinning?: boolean;
  /** Default "all". */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Graph variant, as the package's split graphs; default "f32". */
  compute?: GraphVariant;
};

export function resolveServeSessionConfig(c: ServeSessionConfig = {}): Required<ServeSessionConfig> {
  return {
    executionProvider: c.executionProvider ?? "cpu",
    threads: c.threads ?? defaultThreads(),
    spinning: c.spinning ?? true,
    graphOptimizationLevel: c.graphOptimizationLevel ?? "all",
    compute: c.compute ?? "f32",
  };
}

/** The serving graph of a package (its initializers stay in the package's weights.bin). */
export function serveGraphBytes(manifest: ModelManifest, compute: GraphVariant): Uint8Array {
  const byId = new Map(manifest.weights.tensors.map((t) => [t.tensorId, t]));
  const weightRef = (id: number) => {
    const t = byId.get(id);
    if (!t) throw new SessionLoadError(`the package has no tensor ${id}`);
    return { location: manifest.weights.file, offset: t.offset, length: t.rows * t.rowLength * (t.dtype === 2 ? 4 : 2) };
  };
  return buildServeGraph({ arch: manifest.architecture, compute, io: manifest.encoding.traceDtype === 1 ? OnnxType.FLOAT16 : OnnxType.FLOAT, weightRef });
}

/** onnxruntime's options for the serving graph of the package in `dir` under setup `c`. */
export function serveSessionOptions(dir: string, c: Required<ServeSessionConfig>): ort.InferenceSession.SessionOptions {
  return {
    ...onnxSessionOptions(c.executionProvider, c.threads, c.graphOptimizationLevel),
    // Built in memory, so onnxruntime needs to be told where weights.bin lives.
    extra: { session: { model_external_initializers_file_folder_path: dir, intra_op: { allow_spinning: c.spinning ? "1" : "0" } } },
  };
}

/**
 * One onnxruntime session over the whole model (the serving graph, built here from the
 * manifest; its initializers are read from the package's weights.bin), run on a worker thread
 * so a forward pass overlaps the main thread's work (runtime/serve/serve-worker.ts).
 */
export class ServeSession {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly config: Required<ServeSessionConfig>,
    readonly worker: ServeWorker,
  ) {}

  static async load(dir: string, config: ServeSessionConfig = {}): Promise<ServeSession> {
    const c = resolveServeSessionConfig(config);
    if (c.executionProvider !== "cpu" && !availableExecutionProviders().includes(c.executionProvider)) throw new ExecutionProviderUnavailableError(c.executionProvider, availableExecutionProviders());
    const manifest = await readManifest(dir);
    const bytes = serveGraphBytes(manifest, c.compute);
    try {
      const worker = await ServeWorker.start(bytes, serveSessionOptions(dir, c));
      return new ServeSession(dir, manifest, c, worker);
    } catch (cause) {
      if (c.executionProvider !== "cpu") throw new ExecutionProviderUnavailableError(c.executionProvider, availableExecutionProviders(), cause);
      throw new SessionLoadError(`cannot load the serving graph of ${dir}`, { cause });
    }
  }

  /** One forward pass; inputs on a SharedArrayBuffer (the KV slots) are not copied. */
  run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.worker.run(feeds);
  }

  release(): Promise<void> {
    return this.worker.release();
  }
}
