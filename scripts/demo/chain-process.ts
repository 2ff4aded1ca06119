import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { freePortNear } from "./ports.js";

/**
 * `hardhat node` in a process of its own, as an operator's RPC node is: its block execution does
 * not run on this process's main thread, where a prover node's serving loop runs (bench:serve,
 * PROTOCOL §4.8).
 *
 * It runs under a small watchdog process that ends it when this process goes away by any road,
 * SIGKILL included: the watchdog's stdin is a pipe from here, and the kernel closes it when this
 * process dies. (An 'exit' handler here cannot run when a signal kills the process, and a chain
 * left behind holds its port and a core's worth of idle timers.)
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const [cmd, ...args] = process.argv.slice(1);
const chain = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
let ending = false;
const end = () => {
  if (ending) return;
  ending = true;
  chain.kill("SIGTERM");
  setTimeout(() => chain.kill("SIGKILL"), 4000).unref();
};
process.stdin.on("end", end);
process.stdin.on("error", end);
process.stdin.resume();
process.on("SIGTERM", end);
process.on("SIGINT", end);
chain.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
chain.on("error", (err) => { console.error(String(err)); process.exit(1); });
`;

export type ChainProcess = { url: string; pid: number; stop(): Promise<void> };

/** Start the chain on a free port near `preferredPort` and wait until it answers as chain 31337. */
export async function spawnChainProcess(preferredPort = 8545): Promise<ChainProcess> {
  const port = await freePortNear(preferredPort);
  const root = path.resolve(import.meta.dirname, "../..");
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve("hardhat/package.json")), (require("hardhat/package.json") as { bin: { hardhat: string } }).bin.hardhat);
  const hardhatNode = [process.execPath, cli, "--config", path.join(root, "hardhat.config.ts"), "node", "--network", "hardhatMainnet", "--hostname", "127.0.0.1", "--port", String(port)];
  const child = spawn(process.execPath, ["-e", WATCHDOG, ...hardhatNode], { cwd: root, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  let spawnError: Error | undefined;
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  child.stdin.on("error", () => {}); // the watchdog gone first: nothing to tell it
  child.once("error", (err) => (spawnError = err));
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const gone = () => spawnError !== undefined || child.exitCode !== null || child.signalCode !== null;
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (gone()) return;
    child.kill("SIGTERM"); // the watchdog ends the chain (SIGKILL after 4 s), then itself
    const hard = setTimeout(() => child.kill("SIGKILL"), 8_000);
    await exited;
    clearTimeout(hard);
  };
  const rpc = (method: string, params: unknown[] = []) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal: AbortSignal.timeout(2_000) }).then(
      async (r) => (r.ok ? ((await r.json()) as { result?: unknown }).result : undefined),
      () => undefined,
    );
  try {
    for (const started = Date.now(); ; ) {
      if (gone()) throw new Error(`the chain process ended before it answered (${spawnError ? String(spawnError) : `exit ${child.exitCode ?? child.signalCode}`}): ${stderr.trim()}`);
      // Its own chain (31337) on the port it was given: not a dev chain someone else started there.
      if ((await rpc("eth_chainId")) === "0x7a69" && !gone()) break;
      if (Date.now() - started > 60_000) throw new Error(`the chain process did not answer at ${url} within 60 s: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // `hardhat node` logs every request; nobody reads it here, and formatting it costs the cores being measured.
    await rpc("hardhat_setLoggingEnabled", [false]);
    return { url, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
