/**
 * npm run bench:adversary — every attack of the adversary suite against the real contracts
 * (Hardhat EDR behind JSON-RPC, deployed by Ignition) and the real dispute agent; prints the
 * table, writes bench/results/adversary.json, and exits non-zero if any cheater won or any
 * honest party lost.
 */
import { runAdversarySuite } from "./adversary/suite.js";
import { failures, printRows, writeRows } from "./adversary/report.js";
import { QUICK, resultPath } from "./quick.js";

const started = performance.now();
// --quick: two attacks and one honest setup through the same world, agent and report (npm test).
const rows = await runAdversarySuite({ scope: QUICK ? "smoke" : "full", log: (l) => console.log(l) });
printRows(rows);
const out = resultPath("adversary.json");
writeRows(rows, out);
const bad = failures(rows);
console.log(`${rows.length} attacks in ${((performance.now() - started) / 1000).toFixed(0)} s; cheater wins: ${rows.filter((r) => r.cheaterWon).length}, honest losses: ${rows.filter((r) => r.honestLost).length}; wrote ${out}`);
process.exit(bad.length === 0 ? 0 : 1);
