// Fails early, with the fix, when the toolchain cannot work: Hardhat 3 and its EDR chain need
// Node >= 22, and npm run by an older Node silently skips EDR's native package.
import { createRequire } from "node:module";

const major = Number(process.versions.node.split(".")[0]);
const fix = 'Put Node 22 first on PATH, then reinstall:\n  npm install --prefix .tools node@22 && export PATH="$PWD/.tools/node_modules/.bin:$PATH"\n  rm -rf node_modules && npm install';
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
