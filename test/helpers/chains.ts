import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import { network } from "hardhat";
import { createPublicClient, http } from "viem";

export { DEV_MNEMONIC, devAccount } from "../../scripts/demo/accounts.js";

export type LocalChain = { kind: "hardhat" | "anvil"; url: string; stop(): Promise<void> };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

async function waitForRpc(url: string, timeoutMs = 20_000): Promise<void> {
  const client = createPublicClient({ transport: http(url, { retryCount: 0 }) });
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.getChainId();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`chain at ${url} did not come up`, { cause: err });
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}

/** Hardhat's EDR behind its own JSON-RPC HTTP server, in this process. */
export async function startHardhatRpc(): Promise<LocalChain> {
  const port = await freePort();
  const server = await network.createServer({ network: "hardhatMainnet" }, "127.0.0.1", port);
  const { address } = await server.listen();
  const url = `http://${address}:${port}`;
  await waitForRpc(url);
  return { kind: "hardhat", url, stop: () => server.close() };
}

/** anvil (Foundry's separately written node) from the npm @foundry-rs/anvil package. */
export async function startAnvil(options: { chainId?: number } = {}): Promise<LocalChain> {
  const port = await freePort();
  const require = createRequire(import.meta.url);
  const binary = path.join(path.dirname(require.resolve("@foundry-rs/anvil-linux-amd64/package.json")), "bin", "anvil");
  const child: ChildProcess = spawn(binary, ["--port", String(port), "--host", "127.0.0.1", "--silent", "--hardfork", "prague", ...(options.chainId ? ["--chain-id", String(options.chainId)] : [])], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitForRpc(url);
  return {
    kind: "anvil",
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}
