/** The chain every CLI talks to unless told otherwise: `--rpc`, else this variable, else the dev chain. */
export const RPC_URL_ENV = "STEPPROOF_RPC_URL";

/** Where `npm run devnet` listens by default (Hardhat's and anvil's usual port). */
export const DEVNET_RPC_URL = "http://127.0.0.1:8545";

/** `--rpc` when given, else STEPPROOF_RPC_URL, else the dev chain's URL. */
export function defaultRpcUrl(flag?: string): string {
  return flag ?? process.env[RPC_URL_ENV] ?? DEVNET_RPC_URL;
}
