import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "viem";
import { loadProverConfig, parseProverConfig } from "../../prover-node/config.js";
import { ConfigError } from "../../prover-node/errors.js";
import { KeystoreError } from "../../protocol/node/keystore.js";
import { encryptKeystore, loadKeystoreAccount } from "../../protocol/node/keystore.js";
import { devAccount } from "../helpers/chains.js";

const minimal = {
  chain: { rpcUrl: "http://127.0.0.1:8545", deploymentFile: "deployments/31337.json" },
  keystore: "keys/prover.json",
  model: { dir: "models/generated/tiny" },
  prices: { input: "1000000000000000", output: 4000000000000000 },
  endpoint: {},
  traceStore: { dir: "traces", maxBytes: 1 << 30 },
  dataDir: "data",
};

describe("prover config and keystore", () => {
  it("fills documented defaults, keeps uint128 prices exact and resolves paths against the config file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "stepproof-config-"));
    const file = path.join(dir, "prover.json");
    await writeFile(file, JSON.stringify({ ...minimal, prices: { input: "340282366920938463463374607431768211455", output: 1 } }));
    const c = await loadProverConfig(file);
    expect(c.prices.input).toBe(2n ** 128n - 1n);
    expect(c.endpoint).toMatchObject({ host: "127.0.0.1", port: 8600, bodyLimit: 1 << 20, maxConnections: 512, metricsReaders: [] });
    // Abuse limits are on by default (PROTOCOL §5.7): a config that names none still gets them.
    expect(c.endpoint.rateLimit.perIp.perSecond).toBeGreaterThan(0);
    expect(c.endpoint.rateLimit.perSigner.perSecond).toBeGreaterThan(0);
    // Review H2/H3/H4: signed requests per IP before recovery, verifier lookups per IP, per-IP connections, socket timeouts.
    expect(c.endpoint.rateLimit).toMatchObject({ signedPerIp: { perSecond: 50, burst: 100 }, verifierLookupsPerIp: { perSecond: 2, burst: 20 } });
    expect(c.endpoint).toMatchObject({ maxConnectionsPerIp: 32, timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000, idleMs: 600_000 } });
    expect(c.model.executionProvider).toBe("cpu");
    expect(c.keystore).toBe(path.join(dir, "keys/prover.json"));
    expect(c.traceStore.dir).toBe(path.join(dir, "traces"));
    expect(c.loopIntervalMs).toBe(15_000);
  });

  it("accepts the shipped example config", async () => {
    const c = await loadProverConfig("prover-node/config.example.json");
    expect(c.endpoint.port).toBe(8600);
    expect(c.stake).toBe(500n * 10n ** 18n);
  });

  it.each([
    ["an unknown key (a typo must not be ignored)", { ...minimal, dataDri: "x" }, /Unrecognized key/],
    ["a negative price", { ...minimal, prices: { input: "-1", output: 1 } }, /prices\.input/],
    ["a bad RPC URL", { ...minimal, chain: { ...minimal.chain, rpcUrl: "localhost" } }, /chain\.rpcUrl/],
    ["a private key in the config", { ...minimal, privateKey: "0x01" }, /Unrecognized key.*privateKey/],
    ["a corruption without a layer", { ...minimal, corrupt: { position: 1, element: 0, delta: 1 } }, /corrupt\.layer/],
  ])("refuses %s with a ConfigError naming the field", (_name, input, message) => {
    const err = (() => {
      try {
        parseProverConfig(input);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it("decrypts a JSON keystore; a wrong password is a KeystoreError that does not echo it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "stepproof-keystore-"));
    const file = path.join(dir, "k.json");
    await writeFile(file, await encryptKeystore(bytesToHex(devAccount(5).getHdKey().privateKey!), "s3cret-pw", 1024));
    expect((await loadKeystoreAccount(file, { password: "s3cret-pw" })).address).toBe(devAccount(5).address);
    const err = await loadKeystoreAccount(file, { password: "wrong-guess" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeystoreError);
    expect(String((err as Error).message)).not.toMatch(/wrong-guess|s3cret/);
  });
});
