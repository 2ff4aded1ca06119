import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { createPublicClient, http, parseEther, type Address } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { jobEscrowAbi, testTokenAbi } from "../../protocol/chain/generated/abi.js";
import { keystoreAddress } from "../../protocol/node/keys-command.js";
import { freePort } from "../helpers/chains.js";

/** What the README's operator section asks for, in order: commands (`&` = a daemon) and waits. */
type Step = { kind: "command"; line: string; background: boolean } | { kind: "wait"; pattern: RegExp };

const START = "<!-- readme-test:operator";
const END = "<!-- readme-test:end -->";

/** A shell line without its trailing `# comment` (a `#` outside quotes, after a blank). */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/**
 * The steps of the README section between `<!-- readme-test:operator … -->` and
 * `<!-- readme-test:end -->`: each line of its ```sh blocks (continuations joined, comments
 * dropped), and each `<!-- readme-test:wait /regex/ -->` between them.
 */
function readmeSteps(readme: string): Step[] {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END, start);
  if (start < 0 || end < 0) throw new Error("README has no readme-test:operator … readme-test:end section");
  const steps: Step[] = [];
  const lines = readme.slice(start, end).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const wait = /^<!-- readme-test:wait \/(.+)\/ -->$/.exec(lines[i]!.trim());
    if (wait) steps.push({ kind: "wait", pattern: new RegExp(wait[1]!) });
    if (lines[i]!.trim() !== "```sh") continue;
    let pending = "";
    for (i++; lines[i]!.trim() !== "```"; i++) {
      const l = stripComment(lines[i]!);
      if (l.endsWith("\\")) {
        pending += l.slice(0, -1) + " ";
        continue;
      }
      const line = (pending + l).trim();
      pending = "";
      if (line === "") continue;
      const background = line.endsWith("&");
      steps.push({ kind: "command", line: background ? line.slice(0, -1).trim() : line, background });
    }
  }
  return steps;
}

/**
 * The repository as a scratch working directory for the README's commands: its files linked,
 * what the commands write (deployments/, keys, configs, data, models) fresh. It lies inside the
 * git-ignored .stepproof/ and links no hardhat.config.ts, so Hardhat finds the repository's
 * config above it and reuses its compiled contracts; npm finds the linked package.json and
 * runs scripts here. Ignition journals in the repository's ignition/deployments/ (its config's
 * folder): the caller sets the dev chain's journal aside and puts it back.
 */
async function scratchCheckout(): Promise<string> {
  const repo = process.cwd();
  await mkdir(path.join(repo, ".stepproof"), { recursive: true });
  const dir = await mkdtemp(path.join(repo, ".stepproof", "readme-test-"));
  const fresh = new Set([".git", ".stepproof", "hardhat.config.ts", "deployments", "keys", "data", "models", "prover.json", "verifier.json", "coverage"]);
  for (const entry of await readdir(repo)) if (!fresh.has(entry)) await symlink(path.join(repo, entry), path.join(dir, entry));
  return dir;
}

/** Ignition's journal of the dev chain, which `npm run deploy -- --network localhost` writes. */
const JOURNAL = path.join("ignition", "deployments", "chain-31337");

describe("README operator section", () => {
  const daemons: { line: string; child: ChildProcess; out: { text: string } }[] = [];
  let dir = "";
  let journalAside: string | undefined;

  afterAll(async () => {
    for (const d of daemons.reverse()) {
      if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
      const exited = new Promise((r) => d.child.once("exit", r));
      try {
        process.kill(-d.child.pid!, "SIGTERM");
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      try {
        process.kill(-d.child.pid!, "SIGKILL");
      } catch {
        // exited on SIGTERM
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    // The developer's own dev-chain journal back where it was (or none, as before).
    await rm(JOURNAL, { recursive: true, force: true });
    if (journalAside) await rename(journalAside, JOURNAL);
  });

  it("runs as written: devnet, deploy, model, init, register, start, a paid job, settlement and withdrawals", async () => {
    const steps = readmeSteps(await readFile("README.md", "utf8"));
    expect(steps.filter((s) => s.kind === "command").length).toBeGreaterThan(10);
    dir = await scratchCheckout();
    if (existsSync(JOURNAL)) {
      journalAside = `${JOURNAL}.before-readme-test`;
      await rename(JOURNAL, journalAside);
    }
    // Only the ports change: the README's own variable for the chain, the prover's port by substitution.
    const rpcUrl = `http://127.0.0.1:${await freePort()}`;
    const proverPort = String(await freePort());
    const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("STEPPROOF_")));
    env["STEPPROOF_RPC_URL"] = rpcUrl;
    const outputs: string[] = [];
    // A transcript to read when a step fails or hangs: every command's output, with its time.
    const transcript = process.env["README_TEST_TRANSCRIPT"];
    const t0 = Date.now();
    const note = (text: string) => (transcript ? appendFile(transcript, `[${((Date.now() - t0) / 1000).toFixed(1)} s] ${text}\n`) : Promise.resolve());
    const daemonText = () => daemons.map((d) => d.out.text).join("\n");

    for (const step of steps) {
      if (step.kind === "wait") {
        const end = Date.now() + 90_000;
        while (!step.pattern.test(daemonText())) {
          const dead = daemons.find((d) => d.child.exitCode !== null);
          if (dead) throw new Error(`\`${dead.line}\` exited ${dead.child.exitCode} while waiting for ${step.pattern}:\n${dead.out.text.slice(-3000)}`);
          if (Date.now() > end) throw new Error(`timed out waiting for ${step.pattern} in the daemons' output:\n${daemonText().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        await note(`waited for ${step.pattern}`);
        continue;
      }
      const line = step.line.replaceAll("--port 8600", `--port ${proverPort}`);
      const exp = /^export ([A-Z_][A-Z0-9_]*)=(\S+)$/.exec(line);
      if (exp) {
        env[exp[1]!] = exp[2]!;
        continue;
      }
      const child = spawn("bash", ["-c", line], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"], detached: step.background });
      const out = { text: "" };
      child.stdout!.on("data", (b: Buffer) => (out.text += b));
      child.stderr!.on("data", (b: Buffer) => (out.text += b));
      if (step.background) {
        daemons.push({ line, child, out });
        await note(`$ ${line} &`);
        continue;
      }
      await note(`$ ${line}`);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      await note(out.text);
      if (code !== 0) throw new Error(`README command failed (exit ${code}): ${line}\n${out.text.slice(-3000)}\n--- daemons ---\n${daemonText().slice(-2000)}`);
      outputs.push(`$ ${line}\n${out.text}`);
    }

    // On-chain: the job was finalized, the prover's pay and the client's refund reached their wallets.
    const deployment = JSON.parse(await readFile(path.join(dir, "deployments", "31337.json"), "utf8")) as { startBlock: number; contracts: { token: Address; jobEscrow: Address } };
    const chain = createPublicClient({ transport: http(rpcUrl) });
    const prover = await keystoreAddress(path.join(dir, "keys", "prover.json"));
    const client = await keystoreAddress(path.join(dir, "keys", "client.json"));
    const finalized = await chain.getContractEvents({ address: deployment.contracts.jobEscrow, abi: jobEscrowAbi, eventName: "JobFinalized", fromBlock: BigInt(deployment.startBlock) });
    expect(finalized).toHaveLength(1);
    const f = finalized[0]!.args;
    expect(f.proverPaid).toBeGreaterThan(0n);
    const balance = (a: Address) => chain.readContract({ address: deployment.contracts.token, abi: testTokenAbi, functionName: "balanceOf", args: [a] });
    const funded = parseEther("10000");
    expect(await balance(prover)).toBe(funded - parseEther("500") + f.proverPaid!);
    expect(await balance(client)).toBe(funded - f.proverPaid! - f.fee! - f.auditFee!);
    const all = outputs.join("\n");
    const sh = (line: string, extra: Record<string, string | undefined> = {}) =>
      new Promise<string>((resolve, reject) => {
        const childEnv = Object.fromEntries(Object.entries({ ...env, ...extra }).filter((e): e is [string, string] => e[1] !== undefined));
        const child = spawn("bash", ["-c", line], { cwd: dir, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
        let text = "";
        child.stdout!.on("data", (b: Buffer) => (text += b));
        child.stderr!.on("data", (b: Buffer) => (text += b));
        child.once("exit", (code) => (code === 0 ? resolve(text) : reject(new Error(`${line} exited ${code}:\n${text}`))));
      });
    const readmeLine = (part: string) => steps.find((s): s is Extract<Step, { kind: "command" }> => s.kind === "command" && s.line.includes(part))!.line;
    // model:register is idempotent: the README's command again is a no-op that prints the id.
    const again = await sh(readmeLine("model:register"));
    expect(again).toMatch(/already registered/);
    expect(again).toMatch(/^0x[0-9a-f]{64}$/m);
    // Status needs no password: only the keystore's address field is read (stdin is closed, no prompt can answer).
    expect(await sh(readmeLine("prover -- status"), { STEPPROOF_KEYSTORE_PASSWORD: undefined })).toMatch(/withdrawn\s+0\.0*[1-9]/);
    // Settlement at the default log level, with amounts; the verifier says what it samples.
    const logs = daemonText();
    expect(logs).toMatch(/committed job 1: \d+ prompt \+ \d+ output tokens; earns [0-9.]+/);
    expect(logs).toMatch(/finalized job 1: [0-9.]+ credited to this prover/);
    expect(logs).toMatch(/checks 25 % of all committed jobs/);
    expect(all).toMatch(/synthetic model/);
    expect(all).toMatch(/earned\s+[1-9]|earned\s+0\.0*[1-9]/);
    // The client's refund of unused escrow: none when the job used every token it paid for.
    expect(all).toMatch(/withdrew [0-9.]+ to 0x|nothing to withdraw for 0x/);
  }, 300_000); // 60–130 s on this shared machine; the margin is for a loaded one (npm test runs files in parallel)
});
