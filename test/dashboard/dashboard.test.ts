import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJob } from "../../client/run-job.js";
import { startDashboard, type Dashboard } from "../../dashboard/start.js";
import type { Snapshot } from "../../dashboard/snapshot/types.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { findChromium } from "../helpers/browser.js";
import { devAccount, freePort } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

const CHROMIUM = findChromium();
// CI sets this (.ci/run installs chromium): there a missing browser fails instead of skipping.
if (!CHROMIUM && process.env["STEPPROOF_REQUIRE_BROWSER"]) throw new Error("STEPPROOF_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium, or set STEPPROOF_CHROMIUM)");

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The network dashboard (issue #13) over a Hardhat JSON-RPC chain with the suite deployed, one
 * prover node and one job run through it by the client: the snapshot the page receives, the
 * persisted indexer cursor, the messages for a chain it cannot show, and the page itself in
 * Chromium (driven by playwright-core), with a screenshot left in a temp folder.
 */
describe("network dashboard", () => {
  let net: TestNetwork;
  let prover: ProverNode;
  let jobId: bigint;
  let dashboard: Dashboard | undefined;
  let database: string;
  const logs: string[] = [];
  const prover1 = devAccount(1).address;
  const start = (over: object = {}) =>
    startDashboard({ rpcUrl: net.chain.url, deploymentFile: net.deploymentFile, port: 0, pollIntervalMs: 200, database, ...over }, { log: (l) => logs.push(l) });
  const snapshotWith = (d: Dashboard, ok: (s: Snapshot) => boolean) => until("a snapshot", () => (d.service.snapshot && ok(d.service.snapshot) ? d.service.snapshot : undefined));

  beforeAll(async () => {
    net = await startTestNetwork();
    database = path.join(net.dir, "dashboard.sqlite");
    prover = await startProverNode(parseProverConfig(await proverConfigFor(net, "honest")), { account: devAccount(1), runLoop: false });
    await registerProverOnChain(net, 1, prover.url);
    const r = await runJob(await net.as(2), { modelId: net.manifest.modelId, prompt: { text: "Once upon a time" }, maxTokens: 6, prover: prover1 });
    jobId = r.jobId;
  });

  afterAll(async () => {
    await dashboard?.close();
    await prover?.close();
    await net?.cleanup();
  });

  it("indexes the prover, its offer and the committed job, with network totals and the detection probability", async () => {
    dashboard = await start();
    const s = await snapshotWith(dashboard, (x) => x.jobs.total > 0 && x.chain.caughtUp);
    const p = s.provers.find((x) => x.address.toLowerCase() === prover1.toLowerCase())!;
    expect(p).toBeDefined();
    expect(p.endpoint).toBe(prover.url);
    expect(BigInt(p.stake)).toBeGreaterThan(0n);
    expect(p.offers).toEqual([expect.objectContaining({ modelId: net.manifest.modelId.toLowerCase(), active: true })]);
    const job = s.jobs.shown.find((j) => j.id === jobId.toString())!;
    expect(job).toMatchObject({ prover: prover1, status: "Committed", client: devAccount(2).address });
    expect(job.outputTokens).toBeGreaterThan(0);
    expect(s.totals.tokensIn + s.totals.tokensOut).toBe(job.inputTokens + job.outputTokens!);
    expect(s.verifiers.some((v) => v.registered && v.pools.length === 1)).toBe(true);
    expect(s.models).toHaveLength(1);
    expect(s.models[0]!.detection).toBeGreaterThan(0);
    expect(s.balances.books.every((b) => b.ok)).toBe(true);
  });

  it("resumes from its persisted cursor after a restart instead of re-reading history", async () => {
    const before = dashboard!.service.snapshot!;
    const events = dashboard!.service.indexer!.ledger.events;
    await dashboard!.close();
    logs.length = 0;
    dashboard = await start();
    const s = await snapshotWith(dashboard, (x) => x.chain.caughtUp);
    expect(logs.some((l) => new RegExp(`resumed at block \\d+ with ${events} stored events`).test(l))).toBe(true);
    expect(dashboard.service.indexer!.ledger.events).toBe(events);
    expect(s.jobs.shown).toEqual(before.jobs.shown);
  });

  it("says why it cannot show a deployment (RPC down, wrong chain, no deployment file), in the API and the log", async () => {
    const cases = [
      { over: { rpcUrl: `http://127.0.0.1:${await freePort()}` }, message: /Cannot reach a JSON-RPC chain/ },
      { over: { expectedChainId: 1 }, message: /Wrong chain: .* serves chain 31337, expected 1/ },
      { over: { deploymentFile: path.join(net.dir, "nope.json") }, message: /No deployment file at .*nope\.json/ },
    ];
    for (const c of cases) {
      logs.length = 0;
      const d = await start({ ...c.over, database: path.join(net.dir, "other.sqlite") });
      try {
        await until("the problem", () => d.service.lastError);
        const res = await fetch(`${d.url}/api/snapshot`);
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(c.message);
        expect(logs.some((l) => c.message.test(l))).toBe(true);
      } finally {
        await d.close();
      }
    }
  });

  it("runs as a command (npm run dashboard, bin stepproof-dashboard) on a node's chain settings: prints its URL, serves until SIGTERM", async () => {
    // The prover's config file, as an operator has it: the dashboard takes its chain section.
    const nodeConfig = path.join(net.dir, "prover.json");
    await writeFile(nodeConfig, JSON.stringify(await proverConfigFor(net, "for-dashboard")));
    const child = spawn(process.execPath, ["--no-warnings", "--import", "tsx", "dashboard/cli.ts", "--node-config", nodeConfig, "--port", "0", "--db", path.join(net.dir, "cli.sqlite"), "--no-probe-nodes"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (out += b));
    try {
      const url = await until("the URL", () => /stepproof dashboard: (http:\/\/\S+)/.exec(out)?.[1]);
      const health = await until("a healthy dashboard", async () => {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { ok: boolean; caughtUp: boolean };
        return h.ok && h.caughtUp ? h : undefined;
      });
      expect(health.ok).toBe(true);
      expect(out).toMatch(/dashboard: connected: chain 31337/);
    } finally {
      child.kill("SIGTERM");
      expect(await new Promise((r) => child.once("exit", (code) => r(code)))).toBe(0);
    }
  });

  describe.skipIf(!CHROMIUM)("in Chromium", () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM!, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it("shows the prover, the job and its state live, and writes a screenshot", async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
      await page.goto(dashboard!.url);
      const jobCell = page.locator(`[data-job="${jobId}"]`);
      await jobCell.waitFor({ timeout: 20_000 });
      const jobRow = page.locator("#jobs tr", { has: jobCell });
      expect(await jobRow.locator(".pill").first().textContent()).toBe("Committed");
      expect(await page.locator(`#provers [data-prover="${prover1.toLowerCase()}"]`).count()).toBe(1);
      expect(await page.locator("#status").getAttribute("data-state")).toBe("live");
      expect(await page.locator('[data-card="Detection probability"] .value').textContent()).toMatch(/\d+ %/);
      expect(await page.locator("#problem").isHidden()).toBe(true);

      // Live: the prover finalizes after the challenge window, and the open page follows.
      await net.advance(3600 + 1);
      expect((await prover.loop.kick()).finalized).toBe(1);
      await page.locator("#jobs tr", { has: jobCell }).locator(".pill", { hasText: "Finalized" }).waitFor({ timeout: 20_000 });

      const dir = await mkdtemp(path.join(tmpdir(), "stepproof-dashboard-"));
      const file = path.join(dir, "dashboard.png");
      await page.screenshot({ path: file, fullPage: true });
      console.log(`dashboard screenshot: ${file}`);
      expect(pageErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("shows a clear message in the page when the RPC is down", async () => {
      const d = await start({ rpcUrl: `http://127.0.0.1:${await freePort()}`, database: path.join(net.dir, "other.sqlite") });
      try {
        const page = await browser.newPage();
        await page.goto(d.url);
        const problem = page.locator("#problem");
        await problem.getByText(/Cannot reach a JSON-RPC chain/).waitFor({ timeout: 20_000 });
        expect(await page.locator("#status").getAttribute("data-state")).toBe("down");
        const file = path.join(await mkdtemp(path.join(tmpdir(), "stepproof-dashboard-")), "rpc-down.png");
        await page.screenshot({ path: file });
        console.log(`dashboard screenshot (RPC down): ${file}`);
        await page.close();
      } finally {
        await d.close();
      }
    }, 60_000);
  });

  it.runIf(!CHROMIUM)("in Chromium: skipped, no browser found (install Debian's chromium or set STEPPROOF_CHROMIUM)", () => {
    console.warn("dashboard browser test skipped: no Chromium found (apt-get install chromium, or set STEPPROOF_CHROMIUM)");
  });
});
