import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * A Chromium for playwright-core to drive: $STEPPROOF_CHROMIUM, else the first of the usual
 * system browsers on PATH (Debian's `chromium` package, which .ci/run installs). Undefined when
 * there is none: browser tests then skip and say why.
 */
export function findChromium(): string | undefined {
  const fromEnv = process.env["STEPPROOF_CHROMIUM"];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  for (const name of ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"]) {
    try {
      const found = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
      if (found) return found;
    } catch {
      // not on PATH
    }
  }
  return undefined;
}
