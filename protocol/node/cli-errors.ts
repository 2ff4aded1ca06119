import { StepproofError } from "../errors.js";

/** Set to 1 to print the whole error (stack and causes) instead of one line. */
export const DEBUG_ENV = "STEPPROOF_DEBUG";

/** Node's system errors an operator meets at start, in words (the code stays in the line). */
const SYSTEM_ERRORS: Record<string, string> = {
  EADDRINUSE: "the address is already in use (another node on that port?)",
  EACCES: "permission denied",
  ENOENT: "no such file or directory",
  ECONNREFUSED: "connection refused (is it running?)",
  ENOSPC: "no space left on the device",
};

const firstLine = (s: string) => s.split("\n")[0]!.trim();

/** The innermost cause's first line, viem's short message where it has one. */
function rootCause(err: StepproofError): string | undefined {
  const inner = err.walk();
  if (inner === err || !(inner instanceof Error)) return undefined;
  const short = (inner as { shortMessage?: unknown }).shortMessage;
  return firstLine(typeof short === "string" ? short : inner.message);
}

/**
 * One line for any failure a CLI ends with: a StepproofError's short message and details (or,
 * without details, its root cause), a Node system error in words, anything else by its first
 * line. Stacks only with STEPPROOF_DEBUG=1: an operator needs what went wrong and what to do.
 */
export function formatCliError(err: unknown): string {
  if (err instanceof StepproofError) {
    const more = err.details ?? rootCause(err);
    return `error: ${err.shortMessage}${more ? ` — ${firstLine(more)}` : ""}`;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const words = code ? SYSTEM_ERRORS[code] : undefined;
    return `error: ${firstLine(err.message)}${words ? ` — ${words}` : ""}`;
  }
  return `error: ${String(err)}`;
}

/**
 * Run a CLI's main function; on failure print formatCliError's line to stderr (the full error
 * too with STEPPROOF_DEBUG=1) and exit 1. Exiting, not just setting the code: a node that failed
 * half-way through starting may hold sockets or native sessions that would keep it alive.
 */
export async function runCli(main: () => Promise<unknown>): Promise<void> {
  try {
    await main();
  } catch (err) {
    const debug = process.env[DEBUG_ENV] === "1";
    if (debug) console.error(err);
    // An unexpected failure (no typed error, no system code) is a bug to report: say how to see more.
    const unexpected = !(err instanceof StepproofError) && !(err as NodeJS.ErrnoException | undefined)?.code;
    console.error(formatCliError(err) + (unexpected && !debug ? ` (${DEBUG_ENV}=1 prints the whole error)` : ""));
    process.exit(1);
  }
}
