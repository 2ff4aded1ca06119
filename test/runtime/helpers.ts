import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSyntheticModel, type PresetName } from "../../runtime/model/synthetic.js";

const made = new Map<string, Promise<string>>();

/** A freshly generated preset model in a temp dir (once per test process). */
export function modelDir(preset: PresetName = "tiny", traceDtype: 1 | 2 = 1): Promise<string> {
  const key = `${preset}-${traceDtype}`;
  let p = made.get(key);
  if (!p) {
    const dir = join(mkdtempSync(join(tmpdir(), "stepproof-model-")), key);
    p = generateSyntheticModel({ preset, dir, traceDtype }).then(() => dir);
    made.set(key, p);
  }
  return p;
}

export function tempDir(prefix = "stepproof-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
