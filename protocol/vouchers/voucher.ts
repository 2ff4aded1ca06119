import { hashTypedData, hexToBigInt, recoverAddress, type Address, type Hex, type LocalAccount, type WalletClient } from "viem";

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

/** secp256k1's group order over two: OpenZeppelin's ECDSA refuses signatures with a larger `s`. */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * The address a voucher signature recovers to as `BatchCourt.checkVoucher` recovers it
 * (OpenZeppelin `ECDSA.tryRecover`, plain ECDSA, PROTOCOL §5.8), or undefined for a signature the
 * contract would refuse: anything but 65 bytes here (64-byte EIP-2098 ones are refused too, which
 * is only stricter), `v` not 27 or 28, or a high `s` (a malleated copy of a valid signature).
 * A prover must hold nothing weaker: a voucher it accepts but cannot show on-chain voids its
 * batch when a leaf is challenged. ERC-1271 wallets are not voucher signers (the court cannot
 * rely on a signature the wallet can revoke).
 */
export async function voucherSigner(voucherHash: Hex, signature: Hex): Promise<Address | undefined> {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return undefined;
  const s = hexToBigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if ((v !== 27 && v !== 28) || s > HALF_N || s === 0n) return undefined;
  try {
    return await recoverAddress({ hash: voucherHash, signature });
  } catch {
    return undefined;
  }
}
