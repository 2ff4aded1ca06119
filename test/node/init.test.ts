import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertConfigAbsent, ensureKeystore, modelNotes, relativeToConfig, type ModelCheck } from "../../node-common/init.js";
import { KEYSTORE_PASSWORD_ENV, loadKeystoreAccount } from "../../protocol/node/keystore.js";

/** The parts of `prover init` / `verifier init` that need no chain (issue #13); the README test runs both against one. */
describe("node init", () => {
  let dir = "";
  const saved = process.env[KEYSTORE_PASSWORD_ENV];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-init-"));
    process.env[KEYSTORE_PASSWORD_ENV] = "init-test";
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env[KEYSTORE_PASSWORD_ENV];
    else process.env[KEYSTORE_PASSWORD_ENV] = saved;
    await rm(dir, { recursive: true, force: true });
  });

  it("never replaces an existing config without --force", async () => {
    const file = path.join(dir, "prover.json");
    await expect(assertConfigAbsent(file, false)).resolves.toBeUndefined();
    await writeFile(file, "{}");
    await expect(assertConfigAbsent(file, false)).rejects.toThrow(/prover\.json exists/);
    await expect(assertConfigAbsent(file, true)).resolves.toBeUndefined();
  });

  it("creates a keystore with the password from the environment, then reuses it without one", async () => {
    const file = path.join(dir, "keys", "prover.json");
    const created = await ensureKeystore(file);
    expect(created.created).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await loadKeystoreAccount(file, { password: "init-test" })).address).toBe(created.address);
    delete process.env[KEYSTORE_PASSWORD_ENV];
    // An existing keystore is only read for its address: no password, no prompt.
    expect(await ensureKeystore(file)).toEqual({ address: created.address, created: false });
    process.env[KEYSTORE_PASSWORD_ENV] = "init-test";
  });

  it("writes paths relative to the config's folder, as configs resolve them", () => {
    expect(relativeToConfig(path.join(dir, "conf", "prover.json"), path.join(dir, "models", "tiny"))).toBe(path.join("..", "models", "tiny"));
    expect(relativeToConfig("prover.json", "keys/prover.json")).toBe(path.join("keys", "prover.json"));
  });

  it("says what the model package still needs: calibration before registration, and that a synthetic model's text is noise", () => {
    const check = (c: Partial<ModelCheck>): ModelCheck => ({ manifest: { modelId: "0xabc", name: "stepproof-tiny" } as unknown as ModelCheck["manifest"], calibrated: true, synthetic: false, registration: "registered", ...c });
    expect(modelNotes(check({}), "models/x")).toEqual([]);
    const notes = modelNotes(check({ calibrated: false, registration: "unregistered", synthetic: true }), "models/x");
    expect(notes[0]).toMatch(/not calibrated: run `npm run calibrate -- --model models\/x` before registering/);
    expect(notes[1]).toMatch(/npm run model:register -- models\/x/);
    expect(notes[2]).toMatch(/synthetic/);
    expect(modelNotes(check({ registration: "mismatch" }), "models/x")[0]).toMatch(/registered with another manifest/);
  });
});
