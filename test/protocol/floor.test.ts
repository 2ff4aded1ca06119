import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * protocol/ is the shared floor (encodings, commitments, evaluator, chain actions): it may import
 * only itself and packages, never the runtime, the nodes, node-common or the client, so every
 * layer above can use it without pulling in onnxruntime or a node's state.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const FLOOR = join(ROOT, "protocol");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

describe("protocol/ floor", () => {
  it("imports nothing outside protocol/ but packages", () => {
    const offending: string[] = [];
    for (const file of tsFiles(FLOOR)) {
      const source = readFileSync(file, "utf8");
      for (const m of source.matchAll(/(?:from|import)\s*\(?\s*["'](\.[^"']+)["']/g)) {
        const target = resolve(file, "..", m[1]!);
        if (relative(FLOOR, target).startsWith("..")) offending.push(`${relative(ROOT, file)} → ${relative(ROOT, target)}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
