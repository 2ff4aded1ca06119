import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";

// These machines cannot download solc: compile with the soljson.js that ships in the
// npm `solc` package (pinned in package.json, so the version below must match it).
const soljson = createRequire(import.meta.url).resolve("solc/soljson.js");
const SOLC_VERSION = "0.8.30";

// Fixed fuzz seed so a CI failure reproduces locally; CI raises the run counts.
const FUZZ_SEED = "0x5e9f00f";
const isCi = process.env.CI === "true";

export default defineConfig({
  plugins: [hardhatViem, hardhatIgnitionViem, hardhatKeystore, hardhatNetworkHelpers],
  solidity: {
    profiles: {
      default: {
        version: SOLC_VERSION,
        path: soljson,
        settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" },
      },
      production: {
        version: SOLC_VERSION,
        path: soljson,
        settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" },
      },
    },
  },
  paths: {
    tests: { solidity: "./test/contracts" },
  },
  test: {
    solidity: {
      fuzz: { runs: isCi ? 1024 : 256, seed: FUZZ_SEED },
      // invariant_solvency overrides runs to 10,000 inline (issue #2); the rest use these.
      invariant: { runs: isCi ? 1_000 : 300, depth: 20, failOnRevert: false },
    },
  },
  networks: {
    // In-process EDR chain used by tests and the demo.
    hardhatMainnet: { type: "edr-simulated", chainType: "l1" },
    // A JSON-RPC node on this machine: `npm run devnet` (Hardhat) or anvil.
    // Its URL follows STEPPROOF_RPC_URL when set, like every stepproof command and the devnet.
    localhost: { type: "http", chainType: "l1", url: process.env["STEPPROOF_RPC_URL"] ?? "http://127.0.0.1:8545" },
    // Any JSON-RPC chain; URL and key come from the keystore or environment, never a file.
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
    // L2 testnets for the voucher path (PROTOCOL §5.8). A batch's calldata must fit each
    // sequencer's per-transaction limit (Arbitrum: 95,000 bytes); maxDebits 256 keeps a commit
    // near 41 KB of debits.
    baseSepolia: {
      type: "http",
      chainType: "op",
      chainId: 84532,
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("STEPPROOF_PRIVATE_KEY")],
    },
    opSepolia: {
      type: "http",
      chainType: "op",
      chainId: 11155420,
      url: configVariable("OP_SEPOLIA_RPC_URL"),
      accounts: [configVariable("STEPPROOF_PRIVATE_KEY")],
    },
    arbitrumSepolia: {
      type: "http",
      chainType: "generic",
      chainId: 421614,
      url: configVariable("ARBITRUM_SEPOLIA_RPC_URL"),
      accounts: [configVariable("STEPPROOF_PRIVATE_KEY")],
    },
    custom: {
      type: "http",
      chainType: "l1",
      url: configVariable("STEPPROOF_RPC_URL"),
      accounts: [configVariable("STEPPROOF_PRIVATE_KEY")],
    },
  },
});
