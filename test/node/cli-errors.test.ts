import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { bytesToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepproofError } from "../../protocol/errors.js";
import { formatCliError } from "../../protocol/node/cli-errors.js";
import { encryptKeystore, KEYSTORE_PASSWORD_ENV } from "../../protocol/node/keystore.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

const run = promisify(execFile);

/** stderr without Node's warnings (SQLite is experimental on Node 22). */
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => l.trim() !== "" && !/ExperimentalWarning|--trace-warnings/.test(l));

describe("CLI failures are one line (issue #14 item 6)", () => {
  it("formats typed errors, system errors and anything else as one line, details or root cause after a dash", () => {
    const inner = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:8600\n    at Server.setupListenHandle"), { code: "EADDRINUSE" });
    expect(formatCliError(new StepproofError("cannot listen on 127.0.0.1:8600", { details: "stop the other process", cause: inner }))).toBe("error: cannot listen on 127.0.0.1:8600 — stop the other process");
    expect(formatCliError(new StepproofError("RPC down", { cause: new Error("fetch failed\nmore") }))).toBe("error: RPC down — fetch failed");
    expect(formatCliError(inner)).toBe("error: listen EADDRINUSE: address already in use 127.0.0.1:8600 — the address is already in use (another node on that port?)");
    expect(formatCliError("plain")).toBe("error: plain");
  });

  describe("a second prover on a port in use", () => {
    let net: TestNetwork;
    let server: Server;
    let configFile = "";

    beforeAll(async () => {
      net = await startTestNetwork();
      const config = await proverConfigFor(net, "second");
      const keystore = path.join(net.dir, "prover.keystore.json");
      await writeFile(keystore, await encryptKeystore(bytesToHex(devAccount(1).getHdKey().privateKey!), "pw", 1024));
      configFile = path.join(net.dir, "prover.json");
      await writeFile(configFile, JSON.stringify({ ...config, keystore, logLevel: "info" }));
      // The first "prover": anything holding the port.
      server = createServer();
      await new Promise<void>((resolve) => server.listen(config.endpoint.port, config.endpoint.host, resolve));
    });

    afterAll(async () => {
      server?.close();
      await net?.cleanup();
    });

    it("ends in one error line naming the port and the fix, no stack, exit 1", async () => {
      const err = (await run(process.execPath, ["--import", "tsx", "prover-node/cli.ts", "start", "--config", configFile], { env: { ...process.env, [KEYSTORE_PASSWORD_ENV]: "pw" } }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      const lines = errorLines(err.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: cannot listen on 127\.0\.0\.1:\d+: the address is already in use \(another prover on that port\?\) — stop the other process or set endpoint\.port in the config$/);
    });

    it("an RPC that does not answer is one line too", async () => {
      const dead = path.join(net.dir, "dead-rpc.json");
      const config = JSON.parse(await readFile(configFile, "utf8")) as { chain: { rpcUrl: string } };
      await writeFile(dead, JSON.stringify({ ...config, chain: { ...config.chain, rpcUrl: "http://127.0.0.1:9" } }));
      const err = (await run(process.execPath, ["--import", "tsx", "prover-node/cli.ts", "start", "--config", dead], { env: { ...process.env, [KEYSTORE_PASSWORD_ENV]: "pw" } }).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(1);
      const lines = errorLines(err.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: .*127\.0\.0\.1:9/);
    });
  });
});
