import { parseEther, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runVoucherJob } from "../../client/run-voucher-job.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { getJob } from "../../protocol/chain/actions/getJob.js";
import { readBatchState } from "../../protocol/chain/actions/vouchers.js";
import { batchIdOf } from "../../prover-node/batches/batch-committer.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { ModelSessions, releaseAllSessions } from "../../runtime/session.js";
import { BatchFollower } from "../../verifier-node/batch-follower.js";
import type { JobCheckFailure } from "../../verifier-node/check-job.js";
import { HttpTraceSource } from "../../verifier-node/http-trace-source.js";
import { VerifierState } from "../../verifier-node/state.js";
import { devAccount } from "../helpers/chains.js";
import { kickUntil, proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";
import path from "node:path";
import { calibrate } from "../../runtime/calibration.js";
import { modelDir } from "../runtime/helpers.js";

/**
 * A verifier following voucher batches (PROTOCOL §5.8) against real prover nodes: an honest
 * prover's batch passes untouched; a cheater's corrupted voucher job is re-executed from its
 * served trace (read by voucher hash), found beyond threshold and moved into the JobEscrow,
 * where the node's dispute driver takes it as a failed job.
 */
describe("verifier follows voucher batches", () => {
  let net: TestNetwork;
  let honest: ProverNode;
  let cheater: ProverNode;
  let client: StepproofClients;
  let verifier: StepproofClients;
  let state: VerifierState;
  let follower: BatchFollower;
  const frauds: { jobId: bigint; failure: JobCheckFailure }[] = [];

  beforeAll(async () => {
    // Layer re-execution needs calibrated thresholds: calibrate before the model is registered.
    await calibrate({ modelDir: await modelDir("tiny"), promptTokens: [256, 72, 101, 108, 108, 111], maxNewTokens: 8, write: true });
    net = await startTestNetwork();
    const vouchers = { enabled: true, batchIntervalSeconds: 1, maxBatchJobs: 1, minLifetimeSeconds: 60 };
    honest = await startProverNode(parseProverConfig(await proverConfigFor(net, "honest", { vouchers })), { account: devAccount(1), runLoop: false, disputeResponder: false });
    cheater = await startProverNode(parseProverConfig(await proverConfigFor(net, "cheater", { vouchers, corrupt: { layer: 1, position: 1, element: 0, delta: 4 } })), { account: devAccount(4), runLoop: false, disputeResponder: false });
    await registerProverOnChain(net, 1, honest.url);
    await registerProverOnChain(net, 4, cheater.url);
    client = await net.as(2);
    verifier = await net.as(3);
    state = new VerifierState(path.join(net.dir, "verifier.sqlite"));
    const sessions = new Map<Hex, ModelSessions>([[net.manifest.modelId.toLowerCase() as Hex, await ModelSessions.load(net.modelDir, { executionProvider: "cpu" })]]);
    follower = new BatchFollower({
      clients: verifier,
      db: state.db,
      traceSource: new HttpTraceSource(verifier),
      sessions,
      // Every job, every block: the test must not depend on the sample.
      policy: { jobFraction: 1, layersPerJob: net.manifest.architecture.layers + 1 },
      secret: () => state.secret(),
      confirmations: 0,
      maxLogRange: 1000,
      onFraud: (f) => frauds.push(f),
      onWithheld: (w) => {
        throw new Error(`no trace was withheld: ${JSON.stringify(w.detail)}`);
      },
    });
  }, 180_000);

  afterAll(async () => {
    await honest?.close();
    await cheater?.close();
    state?.close();
    await releaseAllSessions();
    await net?.cleanup();
  });

  const serve = async (node: ProverNode, prover: Hex) => {
    return kickUntil(node, runVoucherJob(client, { modelId: net.manifest.modelId as Hex, prompt: { tokenIds: [256, 72, 105] }, maxTokens: 4, prover, modelDir: net.modelDir, deposit: parseEther("1"), voucherLifetimeSeconds: 600, waitForBatchMs: 60_000 }));
  };

  it("passes the honest batch and moves the cheater's corrupted job into the JobEscrow", { timeout: 240_000 }, async () => {
    const good = await serve(honest, devAccount(1).address);
    const bad = await serve(cheater, devAccount(4).address);
    const report = await follower.tick();
    expect(report.leaves).toBe(2);
    expect(report.challenged).toBe(0);
    expect(report.adopted).toBe(1);
    expect(frauds).toHaveLength(1);
    const f = frauds[0]!;
    const job = await getJob(verifier, { jobId: f.jobId });
    expect(job.status).toBe(JobStatus.Committed);
    expect(job.prover).toBe(devAccount(4).address);
    expect(job.traceRoot).toBe(bad.traceRoot);
    expect(f.failure.layer).toBe(1);
    // The honest prover's batch was left alone.
    const honestBatch = batchIdOf(devAccount(1).address, 0n);
    expect((await readBatchState(verifier, { batchId: honestBatch })).adoptedTotal).toBe(0n);
    expect(good.batch).toBeDefined();
    // A second pass looks at nothing new.
    expect((await follower.tick()).leaves).toBe(0);
  });
});
