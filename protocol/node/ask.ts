import { createInterface } from "node:readline/promises";

/**
 * Ask on the terminal, offering `fallback` (Enter keeps it). Without a terminal (scripts, CI,
 * the README test) nothing is asked and the fallback is the answer, so every prompt of an
 * interactive command has a flag and a default.
 */
export async function ask(question: string, fallback: string): Promise<string> {
  if (!process.stdin.isTTY) return fallback;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    const answer = (await rl.question(`${question} [${fallback}]: `)).trim();
    return answer === "" ? fallback : answer;
  } finally {
    rl.close();
  }
}
