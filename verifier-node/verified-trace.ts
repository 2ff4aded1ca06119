import { hexToBytes, type Hex } from "viem";
import { chunkLeaf, TOKEN_TENSOR, TRACE_DOMAIN, verifyProof } from "../protocol/commitments/index.js";
import type { HiddenData } from "../runtime/forward.js";
import type { ReplayableTrace } from "../runtime/reexec.js";
import type { ChunkProof } from "../runtime/trace/commitment.js";
import { TraceUnavailableError, type LeafRequest, type TraceRequest, type VerifiedLeaf } from "./trace-source.js";

export type TraceShape = TraceRequest["shape"];

/**
 * Check one served chunk: the leaf is recomputed from the bytes (PROTOCOL §3.2) and its proof
 * checked against the on-chain root, so both bytes and proof must be right. Hidden states are
 * under the trace root; token t under promptRoot (t < inputTokens) or outputRoot (§3.4).
 */
export function verifiedChunk(request: TraceRequest, p: Pick<ChunkProof, "tensorId" | "row" | "chunkIndex" | "chunk" | "proof">, tensorId: number, row: number, chunkIndex: number): Uint8Array {
  const bytes = hexToBytes(p.chunk);
  const leaf = chunkLeaf({ domain: TRACE_DOMAIN, tensorId, row, chunkIndex }, bytes);
  const root = tensorId !== TOKEN_TENSOR ? request.traceRoot : row < request.shape.inputTokens ? request.promptRoot : request.outputRoot;
  if (p.tensorId !== tensorId || p.row !== row || p.chunkIndex !== chunkIndex || (tensorId === TOKEN_TENSOR && bytes.length !== 4) || !verifyProof(leaf, p.proof, root as Hex)) {
    throw new TraceUnavailableError(`chunk (${tensorId}, ${row}, ${chunkIndex}) of job ${request.jobId} does not match the committed root`);
  }
  return bytes;
}

/** A served hidden-state leaf checked against the trace root, returned with its proof. */
export function verifiedLeaf(request: LeafRequest, served: Pick<ChunkProof, "tensorId" | "row" | "chunkIndex" | "chunk" | "proof"> | undefined): VerifiedLeaf {
  if (!served) throw new TraceUnavailableError(`prover ${request.prover} did not serve h[${request.row}][${request.layer}] chunk ${request.chunk} of job ${request.jobId}`);
  const bytes = hexToBytes(served.chunk);
  const leaf = chunkLeaf({ domain: TRACE_DOMAIN, tensorId: request.layer, row: request.row, chunkIndex: request.chunk }, bytes);
  if (served.tensorId !== request.layer || served.row !== request.row || served.chunkIndex !== request.chunk || !verifyProof(leaf, served.proof, request.traceRoot)) {
    throw new TraceUnavailableError(`leaf (${request.layer}, ${request.row}, ${request.chunk}) of job ${request.jobId} does not match the committed root`);
  }
  return { chunk: served.chunk, proof: [...served.proof] };
}

/**
 * Assemble a replayable trace from served chunks, every one verified; rows are rebuilt from
 * the verified bytes only. `chunkAt(l, t, c)` returns what the prover served (or undefined).
 */
export function assembleVerifiedTrace(
  request: TraceRequest,
  shape: TraceShape,
  tokenAt: (t: number) => Pick<ChunkProof, "tensorId" | "row" | "chunkIndex" | "chunk" | "proof"> | undefined,
  chunkAt: (layer: number, t: number, c: number) => Pick<ChunkProof, "tensorId" | "row" | "chunkIndex" | "chunk" | "proof"> | undefined,
): ReplayableTrace {
  const missing = (what: string) => new TraceUnavailableError(`prover ${request.prover} did not serve ${what} of job ${request.jobId}`);
  const tokens: number[] = [];
  for (let t = 0; t < shape.tokens; t++) {
    const p = tokenAt(t);
    if (!p) throw missing(`token ${t}`);
    const bytes = verifiedChunk(request, p, TOKEN_TENSOR, t, 0);
    tokens.push(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true));
  }
  const chunks = Math.ceil(shape.hidden / shape.chunkSize);
  const width = shape.dtype === 1 ? 2 : 4;
  const rows = new Map<string, HiddenData>();
  for (const l of request.boundaries) {
    for (let t = 0; t < shape.tokens - 1; t++) {
      const bytes = new Uint8Array(shape.hidden * width);
      let offset = 0;
      for (let c = 0; c < chunks; c++) {
        const p = chunkAt(l, t, c);
        if (!p) throw missing(`h[${t}][${l}] chunk ${c}`);
        const chunk = verifiedChunk(request, p, l, t, c);
        if (offset + chunk.length > bytes.length) throw new TraceUnavailableError(`h[${t}][${l}] of job ${request.jobId} is longer than ${shape.hidden} elements`);
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      if (offset !== bytes.length) throw new TraceUnavailableError(`h[${t}][${l}] of job ${request.jobId} has ${offset} bytes, expected ${bytes.length}`);
      rows.set(`${t}:${l}`, shape.dtype === 1 ? new Uint16Array(bytes.buffer) : new Float32Array(bytes.buffer));
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
