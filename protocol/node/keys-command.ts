import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Command } from "commander";
import { getAddress, isHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { encryptKeystore, KEYSTORE_PASSWORD_ENV, KeystoreError, readKeystorePassword } from "./keystore.js";

/** Environment variable `keys import` reads the private key from (never a flag: flags land in shell history). */
export const PRIVATE_KEY_ENV = "STEPPROOF_PRIVATE_KEY";

/**
 * Write an encrypted JSON keystore (Web3 secret storage, scrypt) for `privateKey` at `file`,
 * readable by its owner only. Refuses to replace an existing file unless `force`: a keystore
 * overwritten by mistake is a lost key.
 */
export async function writeKeystoreFile(file: string, privateKey: `0x${string}`, password: string, opts: { force?: boolean; scryptN?: number } = {}): Promise<Address> {
  if (!isHex(privateKey) || privateKey.length !== 66) throw new KeystoreError("not a private key", { details: "expected 0x followed by 64 hex digits" });
  if (password.length === 0) throw new KeystoreError("empty keystore password", { details: `set ${KEYSTORE_PASSWORD_ENV} or type one when prompted` });
  if (!opts.force && (await stat(file).catch(() => undefined))) throw new KeystoreError(`${file} exists`, { details: "pass --force to replace it (the key in it is then lost unless you have another copy)" });
  const json = await encryptKeystore(privateKey, password, opts.scryptN);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, json, { mode: 0o600 });
  return privateKeyToAccount(privateKey).address;
}

/** The address a keystore holds, read from its `address` field: no password needed. */
export async function keystoreAddress(file: string): Promise<Address> {
  const text = await readFile(file, "utf8").catch((cause: unknown) => {
    throw new KeystoreError(`cannot read keystore ${file}`, { cause });
  });
  let address: unknown;
  try {
    address = (JSON.parse(text) as { address?: unknown }).address;
  } catch (cause) {
    throw new KeystoreError(`${file} is not a JSON keystore`, { cause });
  }
  if (typeof address !== "string" || !/^(0x)?[0-9a-fA-F]{40}$/.test(address)) throw new KeystoreError(`${file} has no address field`, { details: "is it a Web3 secret-storage keystore?" });
  return getAddress(address.startsWith("0x") ? address : `0x${address}`);
}

/**
 * The account a read-only command reports on: `--address` when given, else the keystore's
 * `address` field (no password: status needs no secret).
 */
export async function readOnlyAddress(flag: string | undefined, keystore: string | undefined, makeError: (message: string) => Error): Promise<Address> {
  if (flag !== undefined) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(flag)) throw makeError(`--address is not an address: ${flag}`);
    return getAddress(flag);
  }
  if (!keystore) throw makeError("give --address, or set `keystore` in the config (only its address field is read)");
  return keystoreAddress(keystore);
}

/** `keys new | import | address`, the same on every stepproof CLI (prover, verifier, client). */
export function addKeysCommand(program: Command): void {
  const keys = program.command("keys").description("create, import or inspect the encrypted JSON keystore a node or client signs with");
  keys
    .command("new")
    .description(`create a new random key in an encrypted keystore (password from ${KEYSTORE_PASSWORD_ENV} or a prompt)`)
    .requiredOption("--out <file>", "keystore file to write (mode 0600)")
    .option("--force", "replace an existing file")
    .action(async (o: { out: string; force?: boolean }) => {
      const address = await writeKeystoreFile(o.out, `0x${randomBytes(32).toString("hex")}`, await readKeystorePassword({ confirm: true }), { force: o.force ?? false });
      console.log(`${address}\nwrote ${o.out}; fund this address (a node then registers)`);
    });
  keys
    .command("import")
    .description(`encrypt an existing private key, read from ${PRIVATE_KEY_ENV}`)
    .requiredOption("--out <file>", "keystore file to write (mode 0600)")
    .option("--force", "replace an existing file")
    .action(async (o: { out: string; force?: boolean }) => {
      const key = process.env[PRIVATE_KEY_ENV];
      if (!key) throw new KeystoreError(`no private key`, { details: `set ${PRIVATE_KEY_ENV}=0x… (a flag would leave it in your shell history)` });
      const address = await writeKeystoreFile(o.out, key as `0x${string}`, await readKeystorePassword({ confirm: true }), { force: o.force ?? false });
      console.log(`${address}\nwrote ${o.out}`);
    });
  keys
    .command("address")
    .description("print the address a keystore holds (no password needed)")
    .argument("<file>", "keystore file")
    .action(async (file: string) => console.log(await keystoreAddress(file)));
}
