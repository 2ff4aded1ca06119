/**
 * `npm run deploy -- --network <name>`: deploy the stepproof suite with Ignition and write
 * deployments/<chainId>.json. Local chains (chain id 31337: `npm run devnet`, anvil) also get
 * a test ERC-20 minted to the first ten accounts. Rerunning resumes or confirms a deployment.
 */
import hre, { network } from "hardhat";
import { StepproofError } from "../protocol/errors.js";
import { deploySuite, readNetworkParameters } from "./lib/deploy-suite.js";

try {
  const conn = await network.create();
  const parameters = await readNetworkParameters(conn.networkName);
  const { deployment, file } = await deploySuite(conn, { parameters, ignitionDir: hre.config.paths.ignition, log: (l) => console.log(l) });
  console.table(deployment.contracts);
  console.log(`chain ${deployment.chainId}, start block ${deployment.startBlock}, file ${file}`);
} catch (err) {
  if (err instanceof StepproofError) {
    console.error(`error: ${err.message}`);
    const inner = err.walk();
    if (inner instanceof Error && inner !== err) console.error(`cause: ${inner.message.split("\n")[0]}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
