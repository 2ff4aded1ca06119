import { hashTypedData, type Address, type Hex, type LocalAccount, type WalletClient } from "viem";

/**
 * A job voucher (PROTOCOL §5.8): the terms a client signs per job, off-chain, for one prover.
 * EIP-712 type `Voucher`, domain `stepproof VoucherEscrow` / `1` / chain id / escrow address.
 */
export type Voucher = {
  client: Address;
  prover: Address;
  modelId: Hex;
  /** tokenRoot(prompt, 0) (PROTOCOL §3.4). */
  promptRoot: Hex;
  samplingParams: bigint;
  inputTokens: number;
  maxOutputTokens: number;
  inputPrice: bigint;
  outputPrice: bigint;
  /** Per (client, prover) account; charged nonces strictly increase. */
  nonce: bigint;
  /** Unix seconds: the last second a batch may include it. */
  expiry: bigint;
};

export const VOUCHER_TYPES = {
  Voucher: [
    { name: "client", type: "address" },
    { name: "prover", type: "address" },
    { name: "modelId", type: "bytes32" },
    { name: "promptRoot", type: "bytes32" },
    { name: "samplingParams", type: "uint256" },
    { name: "inputTokens", type: "uint32" },
    { name: "maxOutputTokens", type: "uint32" },
    { name: "inputPrice", type: "uint128" },
    { name: "outputPrice", type: "uint128" },
    { name: "nonce", type: "uint64" },
    { name: "expiry", type: "uint64" },
  ],
} as const;

export function voucherDomain(chainId: number, voucherEscrow: Address) {
  return { name: "stepproof VoucherEscrow", version: "1", chainId, verifyingContract: voucherEscrow } as const;
}

/** The EIP-712 digest the client signs and the job leaf carries as `voucherHash`. */
export function voucherDigest(v: Voucher, chainId: number, voucherEscrow: Address): Hex {
  return hashTypedData({ domain: voucherDomain(chainId, voucherEscrow), types: VOUCHER_TYPES, primaryType: "Voucher", message: v });
}

/** Sign a voucher with the client's account (a local key or a wallet client). */
export async function signVoucher(
  signer: LocalAccount | WalletClient,
  v: Voucher,
  chainId: number,
  voucherEscrow: Address,
): Promise<Hex> {
  const args = { domain: voucherDomain(chainId, voucherEscrow), types: VOUCHER_TYPES, primaryType: "Voucher" as const, message: v };
  if ("type" in signer && signer.type === "local") return (signer as LocalAccount).signTypedData(args);
  const wallet = signer as WalletClient;
  if (!wallet.account) throw new Error("signVoucher: the wallet client has no account");
  return wallet.signTypedData({ account: wallet.account, ...args });
}

/** What the voucher may charge at most: inputTokens·inputPrice + maxOutputTokens·outputPrice. */
export const voucherMaxCharge = (v: Voucher): bigint => BigInt(v.inputTokens) * v.inputPrice + BigInt(v.maxOutputTokens) * v.outputPrice;
