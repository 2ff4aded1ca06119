import { MultiBar, Presets } from "cli-progress";

export type ProgressBar = {
  /** Move to `value` of the bar's total; `detail` replaces the text after it. */
  update(value: number, detail?: string): void;
};

export type Progress = {
  /** A new bar under the others: `label` before it, `total` steps. */
  bar(label: string, total: number, detail?: string): ProgressBar;
  /** A line above the bars (or a plain line where there are none). */
  log(line: string): void;
  stop(): void;
};

export type CreateProgressParameters = {
  /** The command prints JSON: nothing but its result may reach the terminal's streams. */
  json?: boolean;
  /** Where the bars go (default stderr, so stdout stays the command's result). */
  stream?: NodeJS.WriteStream;
};

/**
 * Progress bars for the long steps of the model commands (fetch, import, calibration), drawn
 * only where a person watches: on a TTY and never with --json. Elsewhere (CI, a daemon's logs,
 * a pipe) the bars are silent and `log` lines are written plainly, so a log stays one line per
 * step instead of a stream of carriage returns.
 */
export function createProgress(p: CreateProgressParameters = {}): Progress {
  const stream = p.stream ?? process.stderr;
  if (p.json) return { bar: () => ({ update() {} }), log() {}, stop() {} };
  if (!stream.isTTY) return { bar: () => ({ update() {} }), log: (line) => void stream.write(`${line}\n`), stop() {} };
  const bars = new MultiBar({ format: "{label} {bar} {percentage}% | {detail}", hideCursor: true, clearOnComplete: false, stream }, Presets.shades_classic);
  return {
    bar(label, total, detail = "") {
      const bar = bars.create(total, 0, { label, detail });
      return {
        update(value, text) {
          bar.update(value, text === undefined ? {} : { detail: text });
          // Draw the last step now rather than at the next timer tick (the step after it may block).
          if (value >= total) bars.update();
        },
      };
    },
    log: (line) => bars.log(`${line}\n`),
    stop: () => bars.stop(),
  };
}
