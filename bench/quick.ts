/**
 * Quick mode of the benchmarks (`--quick`): the smallest sizes, same code paths, results written
 * to a temporary folder instead of bench/results/. `npm test` runs every benchmark this way
 * (scripts/bench-quick.mjs) so a benchmark that rots fails CI instead of its next user.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const QUICK = process.argv.includes("--quick");

/** Where a benchmark writes `name`: bench/results/ normally, a temporary folder in quick mode. */
export function resultPath(name: string): string {
  const dir = QUICK ? join(tmpdir(), "stepproof-bench-quick") : join("bench", "results");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
