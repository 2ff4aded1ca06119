/**
 * bench:serve's chain in a process of its own (scripts/demo/chain-process.ts) ends with the
 * process that started it, even one killed by SIGKILL, which runs no handler of its own: a
 * chain left behind would keep its port and a share of the cores the next run measures.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");

const answers = (url: string) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }), signal: AbortSignal.timeout(1_000) }).then(
    (r) => r.ok,
    () => false,
  );

/** Running (not exited, not a zombie nobody has reaped yet: a container without an init reaps nothing). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ...", state Z for a zombie.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false; // gone between the two looks
  }
};

describe("chain process (bench:serve)", () => {
  it("stops with stop(), and ends when the process that started it is SIGKILLed", { timeout: 180_000 }, async () => {
    const script = `
      import { spawnChainProcess } from ${JSON.stringify(path.join(root, "scripts/demo/chain-process.ts"))};
      const a = await spawnChainProcess(18545);
      const stopped = await a.stop().then(() => "stopped");
      const b = await spawnChainProcess(18645);
      console.log(JSON.stringify({ stopped, stoppedUrl: a.url, url: b.url, watchdog: b.pid, self: process.pid }));
      setInterval(() => {}, 1 << 30);
    `;
    const dir = await mkdtemp(path.join(tmpdir(), "stepproof-chain-"));
    const file = path.join(dir, "start-chain.mts");
    await writeFile(file, script);
    const parent = spawn(tsx, [file], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        parent.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const i = out.indexOf("\n");
          if (i >= 0) resolve(out.slice(0, i));
        });
        parent.once("exit", (code) => reject(new Error(`the script ended (${code}) before it printed: ${out}`)));
      });
      const { stopped, stoppedUrl, url, watchdog, self } = JSON.parse(line) as { stopped: string; stoppedUrl: string; url: string; watchdog: number; self: number };
      expect(stopped).toBe("stopped");
      expect(await answers(stoppedUrl)).toBe(false);
      expect(await answers(url)).toBe(true);
      // The process running the script (tsx runs it in a child of its own), not tsx's launcher.
      process.kill(self, "SIGKILL");
      // The kernel closes the watchdog's stdin; it ends the chain, then itself.
      const deadline = Date.now() + 30_000;
      while ((await answers(url)) || alive(watchdog)) {
        if (Date.now() > deadline) throw new Error(`the chain at ${url} (watchdog ${watchdog}) outlived its SIGKILLed parent by 30 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      // A failed run leaves nothing behind either: SIGTERM, which tsx relays to the script.
      parent.kill("SIGTERM");
    }
    await rm(dir, { recursive: true, force: true });
  });
});
