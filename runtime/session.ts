import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { StepproofRuntimeError } from "./errors.js";
import { readManifest, type GraphVariant, type ModelManifest } from "./model/manifest.js";

/** Execution providers a node may ask for; "cpu" ships inside onnxruntime-node. */
export type ExecutionProvider = "cpu" | "cuda" | "webgpu";
export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";

/** How a model is executed. Two setups that differ here may differ in rounding (PROTOCOL §4.6). */
export type SessionConfig = {
  /** Default "cpu". */
  executionProvider?: ExecutionProvider;
  /** CPU intra-op threads; default 1 so results do not depend on the host's core count. */
  intraOpThreads?: number;
  /** Default "all" (constant folding casts the fp16 weights once at load). */
  graphOptimizationLevel?: GraphOptimizationLevel;
  /** Which graph variant: fp32 math over fp16 weights (default) or fp16 matmuls. */
  compute?: GraphVariant;
};

export class ExecutionProviderUnavailableError extends StepproofRuntimeError {
  override name = "ExecutionProviderUnavailableError";
  constructor(
    readonly executionProvider: ExecutionProvider,
    readonly available: string[],
    cause?: unknown,
  ) {
    super(`execution provider "${executionProvider}" is not available in this onnxruntime-node build`, {
      details: `available: ${available.join(", ") || "none"}; install an onnxruntime-node build with ${executionProvider} support or use "cpu"`,
      cause,
    });
  }
}

export class SessionLoadError extends StepproofRuntimeError {
  override name = "SessionLoadError";
}

export function resolveSessionConfig(c: SessionConfig = {}): Required<SessionConfig> {
  return {
    executionProvider: c.executionProvider ?? "cpu",
    intraOpThreads: c.intraOpThreads ?? 1,
    graphOptimizationLevel: c.graphOptimizationLevel ?? "all",
    compute: c.compute ?? "f32",
  };
}

export function describeSetup(c: SessionConfig): string {
  const r = resolveSessionConfig(c);
  return `${r.executionProvider}/threads=${r.intraOpThreads}/opt=${r.graphOptimizationLevel}/${r.compute}`;
}

/** Backends this onnxruntime-node build offers ("cpu" always; "cuda"/"webgpu" when built in). */
export function availableExecutionProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

/** onnxruntime's options for one setup: one intra-op pool, operators run one after another. */
export function onnxSessionOptions(executionProvider: ExecutionProvider, threads: number, graphOptimizationLevel: GraphOptimizationLevel): ort.InferenceSession.SessionOptions {
  return { executionProviders: [executionProvider], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel, executionMode: "sequential" };
}

function sessionOptions(c: Required<SessionConfig>): ort.InferenceSession.SessionOptions {
  return onnxSessionOptions(c.executionProvider, c.intraOpThreads, c.graphOptimizationLevel);
}

/** The sessions of one model package under one setup; block sessions load independently. */
export class ModelSessions {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly config: Required<SessionConfig>,
    readonly embed: ort.InferenceSession,
    readonly blocks: ort.InferenceSession[],
    readonly head: ort.InferenceSession,
  ) {}

  /** Load graphs; `layers` restricts which blocks are loaded (default all; [] for none). */
  static async load(dir: string, config: SessionConfig = {}, layers?: number[]): Promise<ModelSessions> {
    const c = resolveSessionConfig(config);
    if (c.executionProvider !== "cpu") {
      const available = availableExecutionProviders();
      if (!available.includes(c.executionProvider)) throw new ExecutionProviderUnavailableError(c.executionProvider, available);
    }
    const manifest = await readManifest(dir);
    const graphs = manifest.graphs[c.compute];
    const opts = sessionOptions(c);
    const create = async (file: string): Promise<ort.InferenceSession> => {
      try {
        return await ort.InferenceSession.create(join(dir, file), opts);
      } catch (cause) {
        if (c.executionProvider !== "cpu") throw new ExecutionProviderUnavailableError(c.executionProvider, availableExecutionProviders(), cause);
        throw new SessionLoadError(`cannot load ${file} from ${dir}`, { cause });
      }
    };
    const wanted = layers ?? graphs.blocks.map((_, i) => i + 1);
    const blocks: ort.InferenceSession[] = [];
    for (const l of wanted) {
      const ref = graphs.blocks[l - 1];
      if (!ref) throw new RangeError(`model has no block ${l}`);
      blocks[l - 1] = await create(ref.file);
    }
    return new ModelSessions(dir, manifest, c, await create(graphs.embed.file), blocks, await create(graphs.head.file));
  }

  block(layer: number): ort.InferenceSession {
    const s = this.blocks[layer - 1];
    if (!s) throw new RangeError(`block ${layer} is not loaded`);
    return s;
  }

  async release(): Promise<void> {
    await Promise.all([this.embed, this.head, ...this.blocks.filter(Boolean)].map((s) => s.release()));
  }
}

const cache = new Map<string, Promise<ModelSessions>>();

/** Process-wide session cache keyed by package and setup (sessions are expensive to create). */
export function getModelSessions(dir: string, config: SessionConfig = {}): Promise<ModelSessions> {
  const key = `${dir}|${describeSetup(config)}`;
  let s = cache.get(key);
  if (!s) {
    s = ModelSessions.load(dir, config);
    cache.set(key, s);
    s.catch(() => cache.delete(key));
  }
  return s;
}

export async function releaseAllSessions(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  await Promise.all(all.map(async (p) => (await p).release().catch(() => undefined)));
}

/** Release the cached sessions of one package (every setup), e.g. before the directory moves. */
export async function releaseSessions(dir: string): Promise<void> {
  const mine = [...cache.entries()].filter(([key]) => key.startsWith(`${dir}|`));
  for (const [key] of mine) cache.delete(key);
  await Promise.all(mine.map(async ([, p]) => (await p).release().catch(() => undefined)));
}
