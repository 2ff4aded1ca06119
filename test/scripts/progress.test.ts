import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { calibrate, type CalibrationProgress } from "../../runtime/calibration.js";
import { releaseAllSessions } from "../../runtime/session.js";
import { createProgress } from "../../scripts/lib/progress.js";
import { modelDir } from "../runtime/helpers.js";

/** A stream that records what is written, a terminal or not. */
function sink(isTTY: boolean): NodeJS.WriteStream & { text(): string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream & { text(): string };
  Object.assign(w, { isTTY, columns: 100, text: () => chunks.join("") });
  return w;
}

/** The model commands' progress bars: drawn on a terminal only, plain lines elsewhere, nothing with --json. */
describe("progress bars of the model commands", () => {
  const run = (stream: NodeJS.WriteStream, json = false) => {
    const p = createProgress({ stream, json });
    p.log("converting 3 tensors …");
    const bar = p.bar("convert", 3);
    for (let i = 1; i <= 3; i++) bar.update(i, `tensor ${i}`);
    p.stop();
  };

  it("draws bars on a TTY", () => {
    const tty = sink(true);
    run(tty);
    expect(tty.text()).toContain("converting 3 tensors …");
    expect(tty.text()).toMatch(/convert .*100% \| tensor 3/);
  });

  it("writes one plain line per step, no bars and no control codes, where no one watches (a pipe, CI, a daemon's log)", () => {
    const pipe = sink(false);
    run(pipe);
    expect(pipe.text()).toBe("converting 3 tensors …\n");
  });

  it("writes nothing with --json", () => {
    const tty = sink(true);
    run(tty, true);
    expect(tty.text()).toBe("");
  });

  it("calibration reports the traced reference run token by token and each setup's re-execution boundary by boundary", async () => {
    const seen: CalibrationProgress[] = [];
    const r = await calibrate({ modelDir: await modelDir("tiny"), promptTokens: [256, 72, 105], maxNewTokens: 5, onProgress: (p) => seen.push(p) });
    await releaseAllSessions();
    expect(seen.filter((p) => p.stage === "trace").map((p) => p.done)).toEqual([1, 2, 3, 4, 5]);
    for (const setup of r.perSetup) {
      const steps = seen.filter((p) => p.stage === "reexecute" && p.setup === setup.setup);
      expect(steps.at(-1)).toMatchObject({ done: steps.length, total: steps.length });
    }
  });
});
