import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { ModelFetchError } from "./errors.js";

const BLOCK = 512;

/** Name and size of a tar header block; undefined for the all-zero end marker. */
function parseHeader(h: Buffer): { name: string; size: number; type: string } | undefined {
  if (h.every((b) => b === 0)) return undefined;
  const str = (from: number, len: number) => h.subarray(from, from + len).toString("utf8").replace(/\0.*$/s, "");
  const size = Number.parseInt(str(124, 12).trim() || "0", 8);
  if (!Number.isFinite(size)) throw new ModelFetchError("corrupt tar header (size)");
  const prefix = str(345, 155); // ustar
  const name = str(0, 100);
  return { name: prefix ? `${prefix}/${name}` : name, size, type: str(156, 1) || "0" };
}

/**
 * Stream one regular file out of a .tgz without unpacking the rest (a 112 MB tarball holds a
 * 61 MB model bundle): `onData` receives its bytes in order; returns the file's size. Only
 * ustar names are read (pax headers are skipped), which is what npm writes for short paths.
 */
export async function readTarEntry(tgz: string, entry: string, onData: (chunk: Buffer) => void): Promise<number> {
  let pending: Buffer = Buffer.alloc(0);
  let remaining = 0; // bytes of the current entry's data still to pass
  let padding = 0; // zero bytes after it up to the block boundary
  let capturing = false;
  let found: number | undefined;
  let ended = false;
  const file = createReadStream(tgz);
  try {
    for await (const chunk of file.pipe(createGunzip())) {
      if (ended) break;
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      while (pending.length > 0) {
        if (remaining > 0) {
          const take = Math.min(remaining, pending.length);
          if (capturing) onData(pending.subarray(0, take));
          pending = pending.subarray(take);
          remaining -= take;
          continue;
        }
        if (padding > 0) {
          const take = Math.min(padding, pending.length);
          pending = pending.subarray(take);
          padding -= take;
          continue;
        }
        if (capturing) {
          ended = true;
          break;
        }
        if (pending.length < BLOCK) break;
        const header = parseHeader(pending.subarray(0, BLOCK));
        pending = pending.subarray(BLOCK);
        if (!header) {
          ended = true;
          break;
        }
        remaining = header.size;
        padding = (BLOCK - (header.size % BLOCK)) % BLOCK;
        capturing = header.name === entry && (header.type === "0" || header.type === "\0");
        if (capturing) found = header.size;
      }
    }
  } catch (cause) {
    throw new ModelFetchError(`cannot read ${tgz}`, { details: "not a gzip'd tar archive, or truncated", cause });
  } finally {
    file.destroy(); // stopping after the entry leaves the rest of the file unread
  }
  if (found === undefined) throw new ModelFetchError(`${tgz} has no ${entry}`);
  if (remaining > 0) throw new ModelFetchError(`${tgz} ends inside ${entry}`);
  return found;
}
