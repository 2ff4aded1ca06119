// Fails early, with the fix, when the toolchain cannot work: Hardhat 3 and its EDR chain need
// Node >= 22, and npm run by an older Node silently skips EDR's native package.
import { createRequire } from "node:module";

const major = Number(process.versions.node.split(".")[0]);
// npm scripts run on the node@22 devDependency (node_modules/.bin first on PATH), and the root
// postinstall adds EDR's native package: a reinstall repairs either.
const fix = "Reinstall with `rm -rf node_modules && npm install` (it brings Node 22 and EDR's native package), then use npm scripts (`npm run demo`, `npm test`) or put node_modules/.bin first on PATH.";
if (major < 22) {
  console.error(`stepproof needs Node >= 22 (this is ${process.version}).\n${fix}`);
  process.exit(1);
}
try {
  const require = createRequire(import.meta.url);
  require("@nomicfoundation/edr");
} catch (err) {
  console.error(`Hardhat's EDR native package is missing (installed with an older Node?): ${err.message.split("\n")[0]}\n${fix}`);
  process.exit(1);
}
