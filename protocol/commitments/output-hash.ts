import { keccak256, type Hex } from "viem";

/**
 * outputHash of a job (PROTOCOL §5.3): keccak256 of the generated token ids, each a uint32
 * big-endian, concatenated. The client recomputes it from the tokens it received.
 */
export function outputHash(tokens: readonly number[]): Hex {
  const bytes = new Uint8Array(tokens.length * 4);
  const view = new DataView(bytes.buffer);
  tokens.forEach((token, i) => {
    if (!Number.isInteger(token) || token < 0 || token > 0xffffffff) throw new RangeError(`token id out of range: ${token}`);
    view.setUint32(i * 4, token, false);
  });
  return keccak256(bytes);
}
