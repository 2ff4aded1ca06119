import * as ort from "onnxruntime-node";
import type { GraphVariant, ModelManifest } from "../model/manifest.js";
import { readManifest } from "../model/manifest.js";
import { OnnxType } from "../onnx/builder.js";
import { buildServeGraph } from "../onnx/serve-graph.js";
import { availableExecutionProviders, ExecutionProviderUnavailableError, SessionLoadError, type ExecutionProvider, type GraphOptimizationLevel } from "../session.js";
import { defaultThreads } from "./threads.js";

/** How the serving graph runs (PROTOCOL §4.2 "Serving"). */
export type ServeSessionConfig = {
  /** Default "cpu". */
  executionProvider?: ExecutionProvider;
  /** Intra-op threads of the one session; default: every core of the machine (runtime/serve/threads.ts). */
  threads?: number;
  /**
   * Whether idle pool threads busy-wait for the next operator (onnxruntime's default). Default
   * false: the pool's threads block between operators, so they give their cores back to the
   * main thread (trace hashing, HTTP, the chain client) and to other processes; spinning
   * threads on cores shared with other work made 2 threads slower than 1 (measured 45 vs 78
   * tok/s on stories15M, 2 shared cores).
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
    spinning: c.spinning ?? false,
    graphOptimizationLevel: c.graphOptimizationLevel ?? "all",
    compute: c.compute ?? "f32",
  };
}

/**
 * One onnxruntime session over the whole model (the serving graph, built here from the
 * manifest; its initializers are read from the package's weights.bin).
 */
export class ServeSession {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly config: Required<ServeSessionConfig>,
    readonly session: ort.InferenceSession,
  ) {}

  static async load(dir: string, config: ServeSessionConfig = {}): Promise<ServeSession> {
    const c = resolveServeSessionConfig(config);
    if (c.executionProvider !== "cpu" && !availableExecutionProviders().includes(c.executionProvider)) throw new ExecutionProviderUnavailableError(c.executionProvider, availableExecutionProviders());
    const manifest = await readManifest(dir);
    const byId = new Map(manifest.weights.tensors.map((t) => [t.tensorId, t]));
    const weightRef = (id: number) => {
      const t = byId.get(id);
      if (!t) throw new SessionLoadError(`the package has no tensor ${id}`);
      return { location: manifest.weights.file, offset: t.offset, length: t.rows * t.rowLength * (t.dtype === 2 ? 4 : 2) };
    };
    const bytes = buildServeGraph({ arch: manifest.architecture, compute: c.compute, io: manifest.encoding.traceDtype === 1 ? OnnxType.FLOAT16 : OnnxType.FLOAT, weightRef });
    try {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: [c.executionProvider],
        intraOpNumThreads: c.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: c.graphOptimizationLevel,
        executionMode: "sequential",
        // Built in memory, so onnxruntime needs to be told where weights.bin lives.
        extra: { session: { model_external_initializers_file_folder_path: dir, intra_op: { allow_spinning: c.spinning ? "1" : "0" } } },
      });
      return new ServeSession(dir, manifest, c, session);
    } catch (cause) {
      if (c.executionProvider !== "cpu") throw new ExecutionProviderUnavailableError(c.executionProvider, availableExecutionProviders(), cause);
      throw new SessionLoadError(`cannot load the serving graph of ${dir}`, { cause });
    }
  }

  run(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.session.run(feeds);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
