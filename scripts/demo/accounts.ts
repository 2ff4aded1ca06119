import { mnemonicToAccount } from "viem/accounts";

/** Hardhat's and anvil's well-known development mnemonic: local chains only. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";
export const devAccount = (index: number) => mnemonicToAccount(DEV_MNEMONIC, { addressIndex: index });

/** Roles of the demo, by dev-account index. */
export const ROLES = { governance: 0, honestProver: 1, cheatingProver: 2, verifier: 3, client: 4 } as const;
