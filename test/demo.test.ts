import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stories15M } from "./helpers/stories15m.js";

/** README promises `npm run demo` shows the whole system working: keep that true. */
describe("npm run demo", () => {
  it("catches and slashes the cheater, pays the honest prover, and reconciles", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "stepproof-demo-"));
    // The demo's default, the real stories15M; the synthetic model only if the registry is unreachable.
    const model = (await stories15M()) ? "stories15M" : "tiny";
    try {
      const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--jobs", "4", "--data-dir", dir, "--model", model], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (b) => (out += b));
      child.stderr.on("data", (b) => (out += b));
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(out).toContain("DEMO OK");
      expect(out).toMatch(/fraud at h\[3\]\[2\]/);
      expect(out).toContain("tokens conserved: true; contracts reconciled: true");
      // Each job prints its prompt and the text it got.
      if (model === "stories15M") expect(out).toContain('"Once upon a time" → ", there was a little girl named Lily.');
      expect(code, out.slice(-3000)).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
