import { open, type FileHandle } from "node:fs/promises";
import { ModelPackageError } from "../errors.js";

/**
 * Reader for the safetensors format: u64 little-endian header length, a JSON header mapping
 * tensor names to { dtype, shape, data_offsets: [start, end] } (offsets relative to the end of
 * the header), then the raw little-endian data. Tensors are read one at a time so an 8B model
 * never has to fit in memory at once.
 */
export type SafetensorsEntry = { file: string; dtype: string; shape: number[]; start: number; end: number };

export async function readSafetensorsHeader(file: string): Promise<Map<string, SafetensorsEntry>> {
  const fh = await open(file, "r");
  try {
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len > 100 * 1024 * 1024) throw new ModelPackageError(`${file}: implausible safetensors header of ${len} bytes`);
    const header = Buffer.alloc(len);
    await fh.read(header, 0, len, 8);
    const json = JSON.parse(header.toString("utf8")) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const out = new Map<string, SafetensorsEntry>();
    for (const [name, e] of Object.entries(json)) {
      if (name === "__metadata__") continue;
      out.set(name, { file, dtype: e.dtype, shape: e.shape, start: 8 + len + e.data_offsets[0], end: 8 + len + e.data_offsets[1] });
    }
    return out;
  } catch (cause) {
    if (cause instanceof ModelPackageError) throw cause;
    throw new ModelPackageError(`cannot read safetensors header of ${file}`, { cause });
  } finally {
    await fh.close();
  }
}

export async function readTensorBytes(e: SafetensorsEntry, handles: Map<string, FileHandle>): Promise<Uint8Array> {
  let fh = handles.get(e.file);
  if (!fh) {
    fh = await open(e.file, "r");
    handles.set(e.file, fh);
  }
  const out = new Uint8Array(e.end - e.start);
  const { bytesRead } = await fh.read(out, 0, out.byteLength, e.start);
  if (bytesRead !== out.byteLength) throw new ModelPackageError(`${e.file}: tensor data truncated`);
  return out;
}

/** Encode a safetensors file (for tests and tools): tensors in insertion order. */
export function encodeSafetensors(tensors: Record<string, { dtype: "F16" | "BF16" | "F32"; shape: number[]; data: Uint8Array }>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header));
  // Pad the header to 8 bytes as the reference writer does (keeps data aligned).
  json = Buffer.concat([json, Buffer.alloc((8 - (json.byteLength % 8)) % 8, 0x20)]);
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let o = 8 + json.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.data, o);
    o += t.data.byteLength;
  }
  return out;
}
