import { hexToBytes, keccak256, type Hex } from "viem";

/** Identifies one chunk of one row of one committed tensor (PROTOCOL §3.2). */
export type ChunkLocation = {
  domain: Hex;
  tensorId: bigint | number;
  row: bigint | number;
  chunkIndex: bigint | number;
};

function writeUint256(out: Uint8Array, offset: number, value: bigint | number): void {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 256n) throw new RangeError(`uint256 out of range: ${v}`);
  for (let i = 31; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/**
 * leaf = keccak256(keccak256(abi.encode(domain, tensorId, row, chunkIndex, keccak256(chunkBytes)))),
 * PROTOCOL §3.2. abi.encode of five static words is their plain concatenation.
 */
export function chunkLeaf(location: ChunkLocation, chunkBytes: Uint8Array): Hex {
  return leafFromChunkHash(location, keccak256(chunkBytes));
}

/** The same leaf when the chunk's hash is already known (e.g. from a peer's proof). */
export function leafFromChunkHash(location: ChunkLocation, chunkHash: Hex): Hex {
  const preimage = new Uint8Array(160);
  preimage.set(hexToBytes(location.domain), 0);
  writeUint256(preimage, 32, location.tensorId);
  writeUint256(preimage, 64, location.row);
  writeUint256(preimage, 96, location.chunkIndex);
  preimage.set(hexToBytes(chunkHash), 128);
  return keccak256(keccak256(preimage, "bytes"));
}
