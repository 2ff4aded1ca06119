import { keccak256, type Hex } from "viem";

/**
 * keccak256 of token ids, each a uint32 big-endian, concatenated: the encoding of both a job's
 * outputHash (PROTOCOL §5.3) and its promptHash (§5.6), so the token leaves of a trace can be
 * checked against either without a tokenizer. Throws RangeError for an id outside uint32.
 */
export function tokenIdsHash(tokens: readonly number[]): Hex {
  const bytes = new Uint8Array(tokens.length * 4);
  const view = new DataView(bytes.buffer);
  tokens.forEach((token, i) => {
    if (!Number.isInteger(token) || token < 0 || token > 0xffffffff) throw new RangeError(`token id out of range: ${token}`);
    view.setUint32(i * 4, token, false);
  });
  return keccak256(bytes);
}

/** outputHash of a job (PROTOCOL §5.3): the client recomputes it from the tokens it received. */
export const outputHash = tokenIdsHash;
