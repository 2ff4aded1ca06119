// `npm run test:bench` (part of `npm test`): every benchmark and simulation in its quick mode
// (smallest sizes, same code paths, results to a temporary folder, no timing assertions), so a
// benchmark broken by a protocol change fails CI instead of surprising its next user.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");

const scripts = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).scripts;
// Every bench:* and sim:* entry, by its tsx target (the npm script may build first; the caller did).
const entries = Object.entries(scripts)
  .filter(([name]) => name.startsWith("bench:") || name.startsWith("sim:"))
  .map(([name, cmd]) => ({ name, file: /tsx (\S+\.ts)/.exec(cmd)?.[1] }));

let failed = 0;
for (const { name, file } of entries) {
  if (!file) {
    console.error(`test:bench: cannot find the tsx entry of "${name}" in package.json`);
    failed++;
    continue;
  }
  const started = performance.now();
  console.log(`test:bench: ${name} --quick (${file})`);
  const r = spawnSync(process.execPath, [tsxCli, file, "--quick"], { stdio: "inherit" });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`test:bench: ${name} --quick FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`}) after ${seconds} s`);
    failed++;
  } else console.log(`test:bench: ${name} --quick ok in ${seconds} s`);
}
if (failed > 0) process.exit(1);
console.log(`test:bench: ${entries.length} benchmarks ok in quick mode`);
