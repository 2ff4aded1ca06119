import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { bytesToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYSTORE_PASSWORD_ENV, loadKeystoreAccount } from "../../protocol/node/keystore.js";
import { PRIVATE_KEY_ENV } from "../../protocol/node/keys-command.js";
import { devAccount } from "../helpers/chains.js";

const run = promisify(execFile);
const tsx = createRequire(import.meta.url).resolve("tsx/cli");
const cli = (which: string, args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [tsx, `${which}/cli.ts`, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });

/** `keys new | import | address` on the CLIs (issue #14 item 1): an operator makes its keystore without code. */
describe("keys commands", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-keys-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates a new keystore that decrypts to the printed address, owner-readable only, and never overwrites it silently", async () => {
    const file = path.join(dir, "nested", "prover.json");
    const { stdout } = await cli("prover-node", ["keys", "new", "--out", file], { [KEYSTORE_PASSWORD_ENV]: "pw" });
    const printed = stdout.split("\n")[0]!;
    expect(printed).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect((await loadKeystoreAccount(file, { password: "pw" })).address).toBe(printed);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // Reading the address needs no password, from any CLI.
    expect((await cli("client", ["keys", "address", file])).stdout.trim()).toBe(printed);
    await expect(cli("verifier-node", ["keys", "new", "--out", file], { [KEYSTORE_PASSWORD_ENV]: "pw" })).rejects.toMatchObject({ stderr: expect.stringMatching(/exists.*--force/s) });
    expect((await loadKeystoreAccount(file, { password: "pw" })).address).toBe(printed);
  });

  it("imports a key from the environment, and names what is wrong with a bad one", async () => {
    const file = path.join(dir, "verifier.json");
    const dev = devAccount(4);
    const privateKey = bytesToHex(dev.getHdKey().privateKey!);
    const { stdout } = await cli("verifier-node", ["keys", "import", "--out", file], { [KEYSTORE_PASSWORD_ENV]: "pw", [PRIVATE_KEY_ENV]: privateKey });
    expect(stdout.split("\n")[0]).toBe(dev.address);
    expect((await loadKeystoreAccount(file, { password: "pw" })).address).toBe(dev.address);
    await expect(cli("prover-node", ["keys", "import", "--out", path.join(dir, "bad.json")], { [KEYSTORE_PASSWORD_ENV]: "pw", [PRIVATE_KEY_ENV]: "0x1234" })).rejects.toMatchObject({ stderr: expect.stringMatching(/not a private key/) });
    await expect(cli("client", ["keys", "address", path.join(dir, "missing.json")])).rejects.toMatchObject({ stderr: expect.stringMatching(/cannot read keystore/) });
  });
});
