/**
 * Row chunking of PROTOCOL §3.1: chunk i of a row of n elements holds elements
 * [i·C, min((i+1)·C, n)); the last chunk may be shorter.
 */

export function chunkCount(rowLength: number, chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  if (!Number.isInteger(rowLength) || rowLength <= 0) throw new RangeError(`row length must be a positive integer, got ${rowLength}`);
  return Math.ceil(rowLength / chunkSize);
}

/** Element range [start, end) of chunk `index`. */
export function chunkRange(rowLength: number, chunkSize: number, index: number): { start: number; end: number } {
  const count = chunkCount(rowLength, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) throw new RangeError(`chunk ${index} out of range [0, ${count})`);
  const start = index * chunkSize;
  return { start, end: Math.min(start + chunkSize, rowLength) };
}

/**
 * Byte views (no copy) of every chunk of one encoded row.
 * `rowBytes` holds rowLength · elementSize bytes.
 */
export function chunkRowBytes(rowBytes: Uint8Array, elementSize: number, chunkSize: number): Uint8Array[] {
  if (rowBytes.byteLength % elementSize !== 0) throw new RangeError(`row of ${rowBytes.byteLength} bytes is not a whole number of ${elementSize}-byte elements`);
  const n = rowBytes.byteLength / elementSize;
  const out: Uint8Array[] = [];
  for (let i = 0; i < chunkCount(n, chunkSize); i++) {
    const { start, end } = chunkRange(n, chunkSize, i);
    out.push(rowBytes.subarray(start * elementSize, end * elementSize));
  }
  return out;
}
