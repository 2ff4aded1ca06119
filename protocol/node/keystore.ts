import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { encryptKeystoreJson, Wallet } from "ethers";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { StepproofError } from "../errors.js";

/** The node's key cannot be loaded: missing file, wrong password, no password source. */
export class KeystoreError extends StepproofError {
  override name = "KeystoreError";
}

/** Environment variable holding the keystore password (for unattended nodes). */
export const KEYSTORE_PASSWORD_ENV = "STEPPROOF_KEYSTORE_PASSWORD";

export type KeystorePassword = { password: string } | { fromEnvOrPrompt: true };

/**
 * Decrypt a Web3 secret-storage JSON keystore (ethers: viem cannot decrypt one). The password
 * comes from STEPPROOF_KEYSTORE_PASSWORD or, on a terminal, a prompt; it and the key stay in
 * memory only and are never logged.
 */
export async function loadKeystoreAccount(file: string, source: KeystorePassword = { fromEnvOrPrompt: true }): Promise<PrivateKeyAccount> {
  let json: string;
  try {
    json = await readFile(file, "utf8");
  } catch (cause) {
    throw new KeystoreError(`cannot read keystore ${file}`, { cause });
  }
  const password = "password" in source ? source.password : await readKeystorePassword();
  let wallet: Awaited<ReturnType<typeof Wallet.fromEncryptedJson>>;
  try {
    wallet = await Wallet.fromEncryptedJson(json, password);
  } catch (cause) {
    // ethers' message may echo input; keep ours short and safe.
    throw new KeystoreError(`cannot decrypt keystore ${file}`, { details: "wrong password or not a JSON keystore", cause });
  }
  return privateKeyToAccount(wallet.privateKey as `0x${string}`);
}

/**
 * The keystore password: from STEPPROOF_KEYSTORE_PASSWORD, else typed on a terminal (twice with
 * `confirm`, for a new keystore, so a typo does not lock the key away).
 */
export async function readKeystorePassword(opts: { confirm?: boolean } = {}): Promise<string> {
  const env = process.env[KEYSTORE_PASSWORD_ENV];
  if (env !== undefined) return env;
  const first = await promptPassword();
  if (opts.confirm && (await promptPassword()) !== first) throw new KeystoreError("the two passwords differ");
  return first;
}

async function promptPassword(): Promise<string> {
  if (!process.stdin.isTTY) throw new KeystoreError(`no keystore password`, { details: `set ${KEYSTORE_PASSWORD_ENV} or run on a terminal to be prompted` });
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo the prompt but not the typed characters (readline has no public option for this).
  const internal = rl as unknown as { _writeToOutput(s: string): void };
  const write = internal._writeToOutput.bind(rl);
  internal._writeToOutput = (s: string) => {
    if (s.startsWith("Keystore password") || s === "\r\n" || s === "\n") write(s);
  };
  try {
    return await rl.question("Keystore password: ");
  } finally {
    rl.close();
  }
}

/** A keystore's JSON for `privateKey` (`keys new` / `keys import`, tests); scryptN lowers the cost for tests. */
export async function encryptKeystore(privateKey: `0x${string}`, password: string, scryptN?: number): Promise<string> {
  const wallet = new Wallet(privateKey);
  return encryptKeystoreJson({ address: wallet.address, privateKey }, password, scryptN ? { scrypt: { N: scryptN } } : {});
}
