import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadVerifierConfig, parseVerifierConfig, VerifierConfigError } from "../../verifier-node/config.js";

const valid = { chain: { rpcUrl: "http://127.0.0.1:8545", deploymentFile: "deployments/31337.json" }, models: [{ dir: "models/tiny" }], dataDir: "data" };

describe("verifier config", () => {
  it("fills documented defaults and resolves paths against the config's folder", () => {
    const c = parseVerifierConfig(valid, "/etc/stepproof");
    expect(c.sampling).toEqual({ jobFraction: 0.25, layersPerJob: 2 });
    expect(c.chain.confirmations).toBe(2);
    expect(c.models[0]!.dir).toBe("/etc/stepproof/models/tiny");
    expect(c.chain.deploymentFile).toBe("/etc/stepproof/deployments/31337.json");
  });

  it("names every invalid field and rejects unknown ones", () => {
    const bad = () => parseVerifierConfig({ ...valid, chain: { rpcUrl: "not a url", deploymentFile: "" }, sampling: { jobFraction: 0 }, privateKey: "0x01" });
    expect(bad).toThrow(VerifierConfigError);
    try {
      bad();
    } catch (err) {
      const message = (err as Error).message;
      for (const field of ["chain.rpcUrl", "chain.deploymentFile", "sampling.jobFraction"]) expect(message).toContain(field);
      expect(message).toMatch(/privateKey/); // keys never belong in the config
    }
  });

  it("takes the endpoint in the prover's shape, { publicUrl }, or as the older bare URL (issue #14 item 4)", () => {
    expect(parseVerifierConfig({ ...valid, endpoint: { publicUrl: "https://verifier.example" } }).endpoint).toBe("https://verifier.example");
    expect(parseVerifierConfig({ ...valid, endpoint: "https://verifier.example" }).endpoint).toBe("https://verifier.example");
    expect(parseVerifierConfig(valid).endpoint).toBe("http://127.0.0.1:8700");
    expect(() => parseVerifierConfig({ ...valid, endpoint: { publicUrl: "nope" } })).toThrow(/endpoint/);
  });

  it("reports a missing or malformed file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "stepproof-vcfg-"));
    await expect(loadVerifierConfig(path.join(dir, "nope.json"))).rejects.toThrow(/cannot read config/);
    await writeFile(path.join(dir, "bad.json"), "{ not json");
    await expect(loadVerifierConfig(path.join(dir, "bad.json"))).rejects.toThrow(/not valid JSON/);
  });
});
