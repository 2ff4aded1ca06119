// Root postinstall: makes `npm install` on a machine whose own Node is older than 22 produce a
// working tree with nothing else done (README: the two commands).
//
// Why it is needed: the `node@22` devDependency puts a Node 22 binary first on every npm
// script's PATH, but npm itself still runs on the old Node, which rejects the engines field of
// Hardhat's EDR native package and silently skips it. Loading EDR then fails "Cannot find
// native binding". Installing this platform's package afterwards (exact version, --no-save)
// fixes that and keeps the rest of the tree. Where EDR already loads this does nothing.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function edrLoads() {
  try {
    require("@nomicfoundation/edr");
    return true;
  } catch {
    return false;
  }
}

function isMusl() {
  if (process.platform !== "linux") return false;
  const report = process.report?.getReport?.();
  return !(report && report.header && report.header.glibcVersionRuntime);
}

/** The EDR binding package for this platform, as EDR's own loader names it. */
function edrPackageName() {
  const { platform, arch } = process;
  if (platform === "linux") return `@nomicfoundation/edr-linux-${arch}-${isMusl() ? "musl" : "gnu"}`;
  if (platform === "win32") return `@nomicfoundation/edr-win32-${arch}-msvc`;
  return `@nomicfoundation/edr-${platform}-${arch}`;
}

if (!edrLoads()) {
  // EDR's exports map hides package.json from require(): read the installed copy directly.
  const manifestPath = new URL("../node_modules/@nomicfoundation/edr/package.json", import.meta.url);
  if (!existsSync(manifestPath)) {
    console.log("stepproof postinstall: Hardhat's EDR is not installed (npm install --omit=dev?); nothing to repair");
    process.exit(0);
  }
  const edrManifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const name = edrPackageName();
  const version = edrManifest.optionalDependencies?.[name];
  if (!version) {
    console.error(`stepproof postinstall: Hardhat's EDR has no native package for ${process.platform}-${process.arch}; the local chain cannot run here.`);
    process.exit(0);
  }
  const npm = process.env.npm_execpath;
  console.log(`stepproof postinstall: npm on Node ${process.versions.node} skipped ${name}@${version} (it requires Node >= 22); installing it now`);
  const args = ["install", "--no-save", "--force", "--no-audit", "--no-fund", "--ignore-scripts", `${name}@${version}`];
  // npm_execpath is npm's own CLI script: run it with the Node that runs npm, as npm does.
  const [cmd, argv] = npm ? [process.env.npm_node_execpath || process.execPath, [npm, ...args]] : ["npm", args];
  try {
    execFileSync(cmd, argv, { stdio: "inherit", env: { ...process.env, npm_config_engine_strict: "false" } });
  } catch (err) {
    console.error(`stepproof postinstall: installing ${name}@${version} failed (${err.message}); run it by hand:\n  npm install --no-save --force ${name}@${version}`);
    process.exit(1);
  }
  if (!edrLoads()) {
    console.error(`stepproof postinstall: ${name}@${version} is installed but EDR still does not load; see scripts/check-node.mjs's message when you run npm test`);
    process.exit(1);
  }
  console.log("stepproof postinstall: EDR loads");
}
