import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { createTestClient, getAbiItem, http, parseEther, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploySuite } from "../../scripts/lib/deploy-suite.js";
import { registerModelPackage } from "../../scripts/lib/register-model-package.js";
import { connectStepproof, type StepproofClients } from "../../protocol/chain/client.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { commitResult } from "../../protocol/chain/actions/commitResult.js";
import { tokenRoot } from "../../protocol/commitments/index.js";
import { promptRoot } from "../../protocol/prompt/prompt.js";
import { respondToDisputes } from "../../node-common/prover-responder.js";
import { StepDisputeDriver } from "../../verifier-node/step-dispute-driver.js";
import { JobStatus, stepproofContracts } from "../../protocol/chain/contracts.js";
import { generate } from "../../runtime/generate.js";
import { calibrate } from "../../runtime/calibration.js";
import { ModelSessions } from "../../runtime/session.js";
import type { TraceCommitment } from "../../runtime/trace/commitment.js";
import { VerifierNode } from "../../verifier-node/node.js";
import { VerifierState } from "../../verifier-node/state.js";
import { CommitmentTraceSource } from "../../verifier-node/commitment-trace-source.js";
import { devAccount, startHardhatRpc, type LocalChain } from "../helpers/chains.js";
import { corruptTrace } from "../helpers/corrupt-trace.js";
import { modelDir } from "../runtime/helpers.js";
import { AuditDriver } from "../../verifier-node/audit-driver.js";
import { auditStateName } from "../../protocol/chain/actions/audits.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { auditManagerAbi, stepProofGameAbi } from "../../protocol/chain/generated/abi.js";
import { finalizeJobs } from "../../protocol/chain/actions/finalizeJobs.js";

describe("verifier node: follow, sample, fetch, re-execute", () => {
  let chain: LocalChain;
  let dir: string;
  const deploymentId = `test-${process.pid}-verifier`;

  beforeAll(async () => {
    chain = await startHardhatRpc();
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-verifier-"));
  });
  afterAll(async () => {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("passes honest jobs, flags the corrupted step, marks withheld traces, and resumes from SQLite", async () => {
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    const { file } = await deploySuite(conn, { deploymentsDir: dir, deploymentId });
    await conn.close();
    const as = (i: number): Promise<StepproofClients> => connectStepproof({ rpcUrl: chain.url, deploymentFile: file, account: devAccount(i) });
    const [gov, prover, client, verifier] = await Promise.all([as(0), as(1), as(2), as(3)]);

    const model = await modelDir("tiny");
    const prompt = [256, 72, 101, 108, 108, 111];
    await calibrate({ modelDir: model, promptTokens: prompt, maxNewTokens: 8, write: true });
    const manifest = await registerModelPackage(gov, model);
    const modelId = manifest.modelId as Hex;
    await registerNode(prover, { role: "prover", stake: parseEther("500"), endpoint: "http://prover.invalid", offers: [{ modelId, inputPrice: 1n, outputPrice: 2n }] });
    // The verifier is the model's only audit pool member and every job is audited: each one is
    // its assignment (PROTOCOL §9.1), answered by a report or a dispute.
    await registerNode(verifier, { role: "verifier", stake: parseEther("50"), endpoint: "http://verifier.invalid", auditPools: [modelId] });
    await sendContractTransaction(gov, { address: gov.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "setModelAuditRate", args: [modelId, 10_000], what: "audit every job" });

    const source = new CommitmentTraceSource();
    const committed = new Map<bigint, TraceCommitment>();
    const serve = async (kind: "honest" | "corrupt" | "withhold") => {
      const job = await openJob(client, { prover: prover.walletClient!.account.address, modelId, promptRoot: promptRoot(prompt), inputTokens: prompt.length, maxOutputTokens: 8 });
      const out = await generate({ modelDir: model, promptTokens: prompt, maxNewTokens: 6, samplingParams: 0n, trace: true, stopAtEos: false });
      let trace: TraceCommitment = out.trace!;
      if (kind === "corrupt") trace = await corruptTrace(trace, { position: 3, layer: 2, element: 5, delta: 0.5 });
      if (kind !== "withhold") source.publish(job.jobId, trace);
      committed.set(job.jobId, trace);
      await commitResult(prover, { jobId: job.jobId, traceRoot: trace.root, outputRoot: tokenRoot(out.outputTokens, prompt.length), outputTokens: out.outputTokens.length });
      return job.jobId;
    };
    const honest = await serve("honest");
    const corrupt = await serve("corrupt");
    const withheld = await serve("withhold");
    // The last commit's draw is seeded by its own block's hash: known from the next block on.
    await createTestClient({ mode: "hardhat", transport: http(chain.url) }).mine({ blocks: 1 });

    const sessions = new Map([[modelId.toLowerCase() as Hex, await ModelSessions.load(model, { intraOpThreads: 1 })]]);
    const dbFile = path.join(dir, "verifier.sqlite");
    const makeNode = (state: VerifierState) =>
      new VerifierNode({ clients: verifier, state, traceSource: source, sessions, audits: new AuditDriver(verifier, state.db, source), policy: { jobFraction: 1, layersPerJob: manifest.architecture.layers + 1 }, confirmations: 0, maxLogRange: 5, maxAttempts: 2 });

    let state = new VerifierState(dbFile);
    const node = makeNode(state);
    const first = await node.tick();
    expect(first.logsRead).toBe(3);
    // What it can sustain is measured and reported (issue #15 item 5): a backlog of three, each check timed.
    expect(first).toMatchObject({ backlog: 3, settledUnchecked: 0 });
    expect(first.checkMs).toBeGreaterThan(0);
    expect(state.get(honest)?.state).toBe("passed");
    // The honest job's audit is reported with the probe leaf; the others are not agreed to.
    const contracts = stepproofContracts(gov);
    expect(first.auditsReported).toBe(1);
    expect(auditStateName((await contracts.auditManager.read.getAudit([honest])).state)).toBe("Agreed");
    expect(auditStateName((await contracts.auditManager.read.getAudit([corrupt])).state)).toBe("Assigned");
    expect(state.get(corrupt)?.state).toBe("failed");
    expect(state.get(corrupt)?.failure).toMatchObject({ position: 3, layer: 2 });
    expect(state.get(withheld)?.state).toBe("error");
    await node.tick();
    expect(state.get(withheld)?.state).toBe("withheld");
    const secret = state.secret();
    state.close();

    // A restarted verifier resumes from its cursor and state: nothing is read or checked twice.
    state = new VerifierState(dbFile);
    expect(state.secret()).toBe(secret);
    const again = await makeNode(state).tick();
    expect(again).toMatchObject({ logsRead: 0, checked: 0 });
    expect(makeNode(state).status(manifest.architecture.layers).detection.perJob).toBe(1);
    // The measured check time survives the restart: the start-up log says what it sustains.
    expect(makeNode(state).throughput()).toMatchObject({ backlog: 0, settledUnchecked: 0, jobsPerMinute: expect.any(Number) });

    // The dispute: the evaluator finds a provable element, the verifier opens, the cheating
    // prover posts its step root, the verifier proves fraud, the escrow slashes.
    const driver = new StepDisputeDriver(verifier, source, new Map([[modelId.toLowerCase(), model]]));
    // Honest provers never lose: no element of any honest step violates its tolerance.
    for (let layer = 0; layer <= manifest.architecture.layers; layer++) {
      for (const position of [0, 4, prompt.length + 4]) {
        const a = await driver.assess({ jobId: honest, prover: prover.walletClient!.account.address, traceRoot: state.get(honest)!.traceRoot, position, layer });
        expect(a, `honest step (${position}, ${layer})`).toMatchObject({ provable: false });
      }
    }
    const disputing = new VerifierNode({ ...makeNode(state).deps, disputes: driver });
    const opened = await disputing.tick();
    expect(opened.disputesOpened).toBe(1);
    expect(state.get(corrupt)?.state).toBe("disputed");
    expect(state.get(honest)?.state).toBe("passed"); // never challenged
    expect(auditStateName((await contracts.auditManager.read.getAudit([corrupt])).state)).toBe("Disputed");
    const stakeBefore = (await contracts.nodeRegistry.read.getNode([prover.walletClient!.account.address])).stake;
    // The prover's loop follows DisputeOpened with a cursor (prover-node/loop.ts); here, the logs directly.
    const disputeEvent = getAbiItem({ abi: stepProofGameAbi, name: "DisputeOpened" });
    const openedDisputes = async () => (await prover.publicClient.getLogs({ address: prover.deployment.contracts.stepProofGame, event: disputeEvent, fromBlock: 0n })).map((l) => ({ id: l.args.disputeId!, jobId: l.args.jobId!, openedBlock: l.blockNumber }));
    const responses = await respondToDisputes({ clients: prover, disputes: await openedDisputes(), modelDir: model, traceFor: (id) => committed.get(id) });
    expect(responses.map((r) => r.move?.kind)).toEqual(["postStepRoot"]);
    await disputing.tick();
    expect((await contracts.jobEscrow.read.getJob([corrupt])).status).toBe(JobStatus.Slashed);
    const stakeAfter = (await contracts.nodeRegistry.read.getNode([prover.walletClient!.account.address])).stake;
    expect(stakeAfter).toBeLessThan(stakeBefore);
    // Nothing left to do for either side.
    const over: unknown[] = [];
    expect(await respondToDisputes({ clients: prover, disputes: await openedDisputes(), modelDir: model, traceFor: (id) => committed.get(id), onOver: (d) => over.push(d.jobId) })).toEqual([]);
    expect(over).toEqual([corrupt]);

    // A job finalized before the verifier got to it is counted as settled unchecked, not just skipped.
    const other = await as(5);
    await registerNode(other, { role: "prover", stake: parseEther("500"), endpoint: "http://other.invalid", offers: [{ modelId, inputPrice: 1n, outputPrice: 2n }] });
    const late = await openJob(client, { prover: other.walletClient!.account.address, modelId, promptRoot: promptRoot(prompt), inputTokens: prompt.length, maxOutputTokens: 8 });
    const lateOut = committed.get(honest)!;
    await commitResult(other, { jobId: late.jobId, traceRoot: lateOut.root, outputRoot: (await contracts.jobEscrow.read.getJob([honest])).outputRoot, outputTokens: (await contracts.jobEscrow.read.getJob([honest])).outputTokens });
    const testClient = createTestClient({ mode: "hardhat", transport: http(chain.url) });
    await testClient.increaseTime({ seconds: 3 * 24 * 3600 });
    await testClient.mine({ blocks: 1 });
    await finalizeJobs(other, [late.jobId]);
    expect((await contracts.jobEscrow.read.getJob([late.jobId])).status).toBe(JobStatus.Finalized);
    const behind = await makeNode(state).tick();
    expect(behind).toMatchObject({ backlog: 1, settledUnchecked: 1 });
    expect(state.get(late.jobId)?.detail).toMatch(/^settled unchecked/);
    state.close();
  });
});
