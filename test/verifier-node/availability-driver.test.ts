/**
 * The verifier forces a withheld trace on-chain (PROTOCOL §8.1): its AvailabilityDriver names
 * spot-check leaves of the job (recorded in SQLite first), claims the challenge once its
 * deadline passed unanswered (the job is slashed), and records an answer as "served on-chain".
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import { answerAvailability, type TraceLeaf } from "../../protocol/chain/actions/availability.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { TOKEN_TENSOR_ID } from "../../protocol/evaluator/layout.js";
import { AvailabilityDriver, spotCheckLeaves } from "../../verifier-node/availability-driver.js";
import { VerifierState } from "../../verifier-node/state.js";
import { answerFrom } from "../../bench/adversary/attacks-availability.js";
import { createWorld, honestData, jobStatus, openAndCommit, promptOf, type World } from "../../bench/adversary/env.js";

describe("verifier availability driver", () => {
  let w: World;
  let state: VerifierState;
  let driver: AvailabilityDriver;
  beforeAll(async () => {
    w = await createWorld();
    state = new VerifierState(join(mkdtempSync(join(tmpdir(), "stepproof-av-")), "verifier.sqlite"));
    driver = new AvailabilityDriver(w.as.verifier, state.db);
  }, 120_000);
  afterAll(async () => {
    await w?.stop();
  });

  it("spot-check leaves: deterministic per secret, within the job's trace, the last token and state first", () => {
    const p = { tokens: 9, hidden: 32, chunkSize: 4, boundaries: [1, 2] };
    const a = spotCheckLeaves(`0x${"11".repeat(32)}`, 7n, p);
    expect(spotCheckLeaves(`0x${"11".repeat(32)}`, 7n, p)).toEqual(a);
    expect(spotCheckLeaves(`0x${"22".repeat(32)}`, 7n, p)).not.toEqual(a);
    expect(a.length).toBe(16);
    expect(a[0]).toEqual({ tensor: TOKEN_TENSOR_ID, row: 8, chunk: 0 });
    expect(a[1]).toEqual({ tensor: 2, row: 7, chunk: 0 });
    for (const l of a.slice(1)) {
      expect(p.boundaries).toContain(l.tensor);
      expect(l.row).toBeLessThanOrEqual(7);
      expect(l.chunk).toBeLessThan(8);
    }
    expect(new Set(a.map((l) => `${l.tensor}:${l.row}:${l.chunk}`)).size).toBe(a.length);
  });

  it("an unanswered challenge is claimed after its deadline and the job is slashed; forcing twice opens one challenge", { timeout: 120_000 }, async () => {
    const prompt = promptOf(51, 2);
    const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: honestData(w, prompt, 4) });
    const id = (await driver.force({ jobId, secret: state.secret(), boundaries: [1] }))!;
    expect(await driver.force({ jobId, secret: state.secret(), boundaries: [1] })).toBe(id);
    expect(await driver.advance()).toEqual({ answered: [], failed: [], cancelled: [] });
    await w.warp(3_601n);
    expect((await driver.advance()).failed).toEqual([jobId]);
    expect(await jobStatus(w, jobId)).toBe(JobStatus.Slashed);
    expect((await driver.advance()).failed).toEqual([]);
  });

  it("an answered challenge is reported as answered and the job is not slashed", { timeout: 120_000 }, async () => {
    const prompt = promptOf(52, 2);
    const data = honestData(w, prompt, 4);
    // The cheater was jailed by the slash above (PROTOCOL §9.4): the honest prover answers.
    const jobId = await openAndCommit(w, { prover: "honestProver", prompt, data });
    // Simulated in the pending block, the challenge is judged as the block after the commit will
    // judge it (PROTOCOL §9.1: none may open in the commit block itself), so it opens at once.
    const challengeId = (await driver.force({ jobId, secret: state.secret(), boundaries: [0, 1] }))!;
    expect(challengeId).toBeDefined();
    const c = w.as.verifier;
    const logs = await c.publicClient.getContractEvents({ address: c.deployment.contracts.traceAvailability, abi: traceAvailabilityAbi, eventName: "AvailabilityChallenged", args: { challengeId } , fromBlock: 0n });
    const leaves: TraceLeaf[] = logs[0]!.args.leaves!.map((l) => ({ tensor: Number(l.tensor), row: Number(l.row), chunk: Number(l.chunk) }));
    await answerAvailability(w.as.honestProver, { challengeId, leaves, ...answerFrom(data, 2, leaves) });
    expect((await driver.advance()).answered).toEqual([jobId]);
    expect(await jobStatus(w, jobId)).toBe(JobStatus.Committed);
  });
});
