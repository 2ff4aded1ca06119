import { f32BitsToHalfBits } from "../../protocol/encoding/index.js";
import { UnsupportedCheckpointError } from "../errors.js";

/**
 * Checkpoint data (F16, BF16 or F32, little-endian) as binary16 bits, round to nearest even:
 * the committed weights dtype (PROTOCOL §3.5). An element that overflows binary16 is an error,
 * never a silent infinity.
 */
export function toBinary16(name: string, dtype: string, bytes: Uint8Array): Uint16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dtype === "F32" ? bytes.byteLength / 4 : bytes.byteLength / 2;
  const out = new Uint16Array(n);
  if (dtype === "F16") {
    for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
    return out;
  }
  if (dtype !== "BF16" && dtype !== "F32") throw new UnsupportedCheckpointError(`${name}: dtype ${dtype} is not F16, BF16 or F32`);
  for (let i = 0; i < n; i++) {
    // bfloat16 is the top half of a binary32.
    const bits = dtype === "BF16" ? view.getUint16(2 * i, true) << 16 : view.getUint32(4 * i, true);
    const h = f32BitsToHalfBits(bits >>> 0);
    if ((h & 0x7c00) === 0x7c00 && ((bits >>> 23) & 0xff) !== 0xff) throw new UnsupportedCheckpointError(`${name}: element ${i} overflows binary16`, { details: "the committed weights dtype is binary16 (PROTOCOL §3.5)" });
    out[i] = h;
  }
  return out;
}
