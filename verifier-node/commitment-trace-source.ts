import { hexToBytes, type Hex } from "viem";
import { chunkLeaf, TOKEN_TENSOR, TRACE_DOMAIN, verifyProof } from "../protocol/commitments/index.js";
import type { ChunkProof } from "../runtime/trace/commitment.js";
import type { HiddenData } from "../runtime/forward.js";
import type { ReplayableTrace } from "../runtime/reexec.js";
import type { TraceCommitment } from "../runtime/trace/commitment.js";
import { TraceUnavailableError, type TraceRequest, type TraceSource } from "./trace-source.js";

/**
 * A trace source over TraceCommitment objects a prover holds in the same process (the demo's
 * in-process provers, tests). It checks every served token and chunk proof against the
 * on-chain root exactly as the HTTP source does, so a lying prover is caught the same way.
 */
export class CommitmentTraceSource implements TraceSource {
  readonly #traces = new Map<string, TraceCommitment>();

  publish(jobId: bigint, trace: TraceCommitment): void {
    this.#traces.set(jobId.toString(), trace);
  }

  async fetch(request: TraceRequest): Promise<ReplayableTrace> {
    const trace = this.#traces.get(request.jobId.toString());
    if (!trace) throw new TraceUnavailableError(`prover ${request.prover} serves no trace for job ${request.jobId}`);
    return verifiedRows(request, trace);
  }
}

/**
 * Verify every token and every chunk of the requested boundaries against the root: the leaf is
 * recomputed from the served bytes (PROTOCOL §3.2), so bytes and proof must both be right. Rows
 * are rebuilt from the verified bytes only.
 */
export function verifiedRows(request: TraceRequest, trace: TraceCommitment): ReplayableTrace {
  const n = trace.tokens.length;
  const tokens: number[] = [];
  for (let t = 0; t < n; t++) {
    const bytes = verifiedChunk(request, trace.tokenProof(t), TOKEN_TENSOR, t, 0);
    tokens.push(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true));
  }
  const { hidden, chunkSize, dtype } = trace.layout;
  const chunks = Math.ceil(hidden / chunkSize);
  const rows = new Map<string, HiddenData>();
  for (const l of request.boundaries) {
    for (let t = 0; t < n - 1; t++) {
      const bytes = new Uint8Array(hidden * (dtype === 1 ? 2 : 4));
      let offset = 0;
      for (let c = 0; c < chunks; c++) {
        const chunk = verifiedChunk(request, trace.hiddenProof(t, l, c), l, t, c);
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      if (offset !== bytes.length) throw new TraceUnavailableError(`h[${t}][${l}] of job ${request.jobId} has ${offset} bytes, expected ${bytes.length}`);
      rows.set(`${t}:${l}`, dtype === 1 ? new Uint16Array(bytes.buffer) : new Float32Array(bytes.buffer));
    }
  }
  return {
    tokens,
    row(t: number, layer: number): HiddenData {
      const r = rows.get(`${t}:${layer}`);
      if (!r) throw new TraceUnavailableError(`h[${t}][${layer}] was not fetched`);
      return r;
    },
  };
}

function verifiedChunk(request: TraceRequest, p: ChunkProof, tensorId: number, row: number, chunkIndex: number): Uint8Array {
  const bytes = hexToBytes(p.chunk);
  const leaf = chunkLeaf({ domain: TRACE_DOMAIN, tensorId, row, chunkIndex }, bytes);
  if (p.tensorId !== tensorId || p.row !== row || p.chunkIndex !== chunkIndex || !verifyProof(leaf, p.proof, request.traceRoot)) {
    throw new TraceUnavailableError(`chunk (${tensorId}, ${row}, ${chunkIndex}) of job ${request.jobId} does not match the committed root`);
  }
  return bytes;
}
