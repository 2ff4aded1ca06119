/**
 * `npm run sim:economics` (issue #9's proof, PROTOCOL §9.8): an agent-based, seeded simulation of
 * honest and cheating provers (0.1 %–100 %, head, sybil- and colluder-assisted), honest, lazy,
 * offline and colluding verifiers, volunteers, clients and the canary role, at the tiny, 8B and
 * 70B model depths, with the contracts' own formulas (protocol/incentives/) and the Ignition
 * default parameters. Prints the tables and writes bench/results/economics.json.
 *
 *   --quick          smallest sizes, same code paths, output to a temporary folder
 *   --seed N         another seed (same seed → same output)
 *   --canary-share c canaries as a share of audits (default 0.01)
 */
import { writeFileSync } from "node:fs";
import { QUICK, resultPath } from "./quick.js";
import { printReport } from "./economics/table.js";
import { runEconomics, toJson } from "./economics/run.js";

function flag(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : Number(process.argv[i + 1]);
}

const seed = flag("--seed");
const canaryShare = flag("--canary-share");
const result = runEconomics({ quick: QUICK, assumptions: { ...(seed !== undefined ? { seed } : {}), ...(canaryShare !== undefined ? { canaryShare } : {}) } });
printReport(result);
const file = resultPath("economics.json");
writeFileSync(file, toJson(result));
console.log(`\nwrote ${file}`);
// Like bench:adversary: the report and the JSON come first, then a failed headline fails the run.
if (!result.headline.holds) process.exitCode = 1;
