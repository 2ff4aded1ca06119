/**
 * Issue #9 end to end: three verifiers in the model's audit pool, one of them lazy; the protocol
 * assigns every job's audit (PROTOCOL §9.1). A cheating prover is caught by its assigned auditor,
 * which takes the reward (§9.5); the lazy verifier approves a canary and loses its bond and stake
 * (§9.3). Real prover nodes over HTTP, real verifier nodes, Hardhat's EDR over JSON-RPC.
 *
 * Which verifier audits a job depends on the commit block's hash, so each phase runs jobs until
 * the case it proves occurs: a cheat job audited by an honest verifier (two in three per job), a
 * canary audited by the lazy one (one in three; a canary an honest verifier catches jails the
 * canary prover, which the canary operator waits out and re-stakes, as a real one would).
 */
import path from "node:path";
import { keccak256, parseEther, toHex, type Address, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditState, canaryCommitment, commitCanary, exposeCanary, readAssignment } from "../../protocol/chain/actions/audits.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { sendContractTransaction } from "../../protocol/chain/actions/send.js";
import { stakeMore } from "../../protocol/chain/actions/stakeMore.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { JobStatus, stepproofContracts } from "../../protocol/chain/contracts.js";
import { auditManagerAbi, jobEscrowAbi, testTokenAbi } from "../../protocol/chain/generated/abi.js";
import { DEFAULT_DEPLOY_PARAMETERS } from "../../ignition/modules/Stepproof.js";
import { runJob } from "../../client/run-job.js";
import { parseProverConfig } from "../../prover-node/config.js";
import { startProverNode, type ProverNode } from "../../prover-node/node.js";
import { ModelSessions } from "../../runtime/session.js";
import { calibrate } from "../../runtime/calibration.js";
import { modelDir } from "../runtime/helpers.js";
import { AuditDriver, type AuditMode } from "../../verifier-node/audit-driver.js";
import { HttpTraceSource } from "../../verifier-node/http-trace-source.js";
import { VerifierNode } from "../../verifier-node/node.js";
import { VerifierState } from "../../verifier-node/state.js";
import { StepDisputeDriver } from "../../verifier-node/step-dispute-driver.js";
import { devAccount } from "../helpers/chains.js";
import { proverConfigFor, registerProverOnChain, startTestNetwork, type TestNetwork } from "../prover-node/fixture.js";

/** Every boundary of position 2 botched: whichever boundaries an audit re-executes, it is wrong there. */
const EVERY_BOUNDARY = { layer: "all" as const, position: 2, element: 3, delta: 0.5, everyNthJob: 1 };
const ACCOUNTS = { governance: 0, cheater: 1, client: 2, honest1: 5, honest2: 6, lazy: 7, canaryProver: 8 } as const;
const JAIL = DEFAULT_DEPLOY_PARAMETERS.audit.jailPeriod;

type Verifier = { label: string; address: Address; mode: AuditMode; node: VerifierNode; state: VerifierState };

describe("protocol audits: three verifiers, one lazy (issue #9)", () => {
  let net: TestNetwork;
  let gov: StepproofClients;
  let client: StepproofClients;
  const provers: ProverNode[] = [];
  const verifiers: Verifier[] = [];

  beforeAll(async () => {
    // Layer thresholds in the manifest before it is registered (PROTOCOL §4.6).
    await calibrate({ modelDir: await modelDir("tiny"), promptTokens: [256, 72, 101, 108, 108, 111], maxNewTokens: 8, write: true });
    net = await startTestNetwork({ auditor: ACCOUNTS.honest1 });
    gov = await net.as(ACCOUNTS.governance);
    client = await net.as(ACCOUNTS.client);
    const modelId = net.manifest.modelId as Hex;
    for (const i of [ACCOUNTS.honest2, ACCOUNTS.lazy]) {
      await registerNode(await net.as(i), { role: "verifier", stake: parseEther("100"), endpoint: "http://127.0.0.1:8700", auditPools: [modelId] });
    }
    const manager = gov.deployment.contracts.auditManager;
    // Every job of the model is audited; governance also runs the canaries (CANARY_ROLE).
    await sendContractTransaction(gov, { address: manager, abi: auditManagerAbi, functionName: "setModelAuditRate", args: [modelId, 10_000], what: "audit every job" });
    const canaryRole = await gov.publicClient.readContract({ address: manager, abi: auditManagerAbi, functionName: "CANARY_ROLE" });
    await sendContractTransaction(gov, { address: manager, abi: auditManagerAbi, functionName: "grantRole", args: [canaryRole, gov.walletClient!.account.address], what: "grant the canary role" });
    // Seed the audit pool so the lazy verifier's agreement is worth something to it.
    await sendContractTransaction(gov, { address: gov.deployment.contracts.token, abi: testTokenAbi, functionName: "approve", args: [gov.deployment.contracts.jobEscrow, parseEther("1")], what: "approve" });
    await sendContractTransaction(gov, { address: gov.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "fundAuditPool", args: [parseEther("1")], what: "seed the audit pool" });

    for (const [name, account] of [["cheater", ACCOUNTS.cheater], ["canary", ACCOUNTS.canaryProver]] as const) {
      const node = await startProverNode(parseProverConfig(await proverConfigFor(net, name, { corrupt: EVERY_BOUNDARY })), { account: devAccount(account), runLoop: false });
      await registerProverOnChain(net, account, node.url);
      provers.push(node);
    }
    const sessions = new Map([[modelId.toLowerCase() as Hex, await ModelSessions.load(net.modelDir, { intraOpThreads: 1 })]]);
    for (const [label, account, mode] of [["honest verifier 1", ACCOUNTS.honest1, "honest"], ["honest verifier 2", ACCOUNTS.honest2, "honest"], ["lazy verifier", ACCOUNTS.lazy, "lazy"]] as const) {
      const clients = await net.as(account);
      const state = new VerifierState(path.join(net.dir, `verifier-${account}.sqlite`));
      const source = new HttpTraceSource(clients);
      const node = new VerifierNode({
        clients,
        state,
        traceSource: source,
        sessions,
        disputes: new StepDisputeDriver(clients, source, new Map([[modelId.toLowerCase(), net.modelDir]])),
        audits: new AuditDriver(clients, state.db, source, mode),
        // Nothing voluntary: every check in this test is an audit the protocol assigned.
        policy: { jobFraction: 1e-9, layersPerJob: 1 },
        confirmations: 0,
        maxLogRange: 1000,
      });
      verifiers.push({ label, address: devAccount(account).address, mode, node, state });
    }
  }, 180_000);

  afterAll(async () => {
    for (const p of provers) await p.close();
    for (const v of verifiers) v.state.close();
    await net?.cleanup();
  });

  /** Let every verifier and prover act until the job settles its audit (agreed, or slashed). */
  const play = async (jobId: bigint) => {
    const escrow = stepproofContracts(gov).jobEscrow;
    for (let round = 0; round < 40; round++) {
      for (const v of verifiers) await v.node.tick();
      for (const p of provers) await p.loop.kick();
      const audit = await gov.publicClient.readContract({ address: gov.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "getAudit", args: [jobId] });
      const status = (await escrow.read.getJob([jobId])).status;
      if (audit.state === AuditState.Agreed || status === JobStatus.Slashed) return { audit, status };
    }
    const states = verifiers.map((v) => `${v.label}: ${v.state.get(jobId)?.state} ${v.state.get(jobId)?.detail ?? ""}`).join("; ");
    throw new Error(`job ${jobId}: its audit did not settle (${states})`);
  };
  const auditorOf = async (jobId: bigint) => {
    await net.advance(1); // the draw is seeded by the commit block: known from the next block
    const a = await readAssignment(gov, jobId);
    expect(a.state).toBe(AuditState.Assigned);
    const v = verifiers.find((x) => x.address === a.auditor);
    expect(v, `auditor ${a.auditor} is a pool member`).toBeDefined();
    return v!;
  };

  it("a cheating prover is caught by its assigned honest auditor, who is rewarded", { timeout: 300_000 }, async () => {
    const cheater = devAccount(ACCOUNTS.cheater).address;
    const stakeBefore = (await stepproofContracts(gov).nodeRegistry.read.getNode([cheater])).stake;
    const lazyApproved: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      const job = await runJob(client, { modelId: net.manifest.modelId as Hex, prompt: { text: `cheat ${i}` }, maxTokens: 6, prover: cheater });
      const auditor = await auditorOf(job.jobId);
      const { status } = await play(job.jobId);
      if (auditor.mode === "lazy") {
        // The lazy auditor approved a corrupted trace; nobody else may challenge it during the
        // audit period. This is the cost of lazy auditors that canaries exist to remove.
        expect(status).toBe(JobStatus.Committed);
        lazyApproved.push(job.jobId);
        continue;
      }
      expect(status).toBe(JobStatus.Slashed);
      // The cheater played its side through its node's persisted sender (PROTOCOL §5.7
      // "Transactions"): every move a row, and every row mined, none a repeat that reverted.
      const moves = provers.find((p) => p.address === cheater)!.db.db.prepare("SELECT hash FROM txs WHERE kind = 'dispute-move'").all() as { hash: Hex }[];
      expect(moves.length).toBeGreaterThan(0);
      for (const m of moves) expect((await gov.publicClient.getTransactionReceipt({ hash: m.hash })).status).toBe("success");
      const [paid] = await stepproofContracts(gov).jobEscrow.getEvents.SlashRewardPaid({ jobId: job.jobId }, { fromBlock: 0n });
      expect(paid?.args.challenger).toBe(auditor.address);
      const [slash] = await stepproofContracts(gov).jobEscrow.getEvents.JobSlashed({ jobId: job.jobId }, { fromBlock: 0n });
      expect(paid!.args.reward).toBe(slash!.args.slashed! / 2n);
      const node = await stepproofContracts(gov).nodeRegistry.read.getNode([cheater]);
      expect(node.stake).toBe(stakeBefore - slash!.args.slashed!);
      expect(node.jailedUntil).toBeGreaterThan(0n);
      // Jailed: the next job cannot even open.
      await expect(runJob(client, { modelId: net.manifest.modelId as Hex, prompt: { text: "after the slash" }, maxTokens: 6, prover: cheater })).rejects.toThrow(/jailed/);
      return;
    }
    throw new Error(`no honest auditor drawn in 12 jobs (${lazyApproved.length} approved by the lazy one)`);
  });

  it("the lazy verifier approves a canary and loses its bond and stake", { timeout: 300_000 }, async () => {
    const canaryProver = devAccount(ACCOUNTS.canaryProver).address;
    const lazy = verifiers.find((v) => v.mode === "lazy")!;
    const registry = stepproofContracts(gov).nodeRegistry;
    const lazyBefore = await registry.read.getNode([lazy.address]);
    // The canary role commits to its canary prover once, before any of its jobs: the commitment
    // names no job, so its timing tells auditors nothing.
    const salt = keccak256(toHex("canary salt"));
    await commitCanary(gov, canaryCommitment(canaryProver, salt));
    for (let i = 0; i < 25; i++) {
      const job = await runJob(gov, { modelId: net.manifest.modelId as Hex, prompt: { text: `canary ${i}` }, maxTokens: 6, prover: canaryProver });
      const auditor = await auditorOf(job.jobId);
      const { audit, status } = await play(job.jobId);
      if (auditor.mode === "honest") {
        // An honest auditor catches the canary: the canary prover is slashed and jailed; the
        // operator waits out the jail and re-stakes before the next canary.
        expect(status).toBe(JobStatus.Slashed);
        await net.advance(JAIL + 1);
        const node = await registry.read.getNode([canaryProver]);
        await stakeMore(await net.as(ACCOUNTS.canaryProver), { amount: parseEther("500") - node.stake });
        continue;
      }
      expect(audit.state).toBe(AuditState.Agreed);
      // Only the job's own prover may reveal it (the role alone cannot make others' jobs canaries).
      await expect(exposeCanary(gov, { jobId: job.jobId, salt })).rejects.toThrow(/NotACanary/);
      await exposeCanary(await net.as(ACCOUNTS.canaryProver), { jobId: job.jobId, salt });
      const after = await registry.read.getNode([lazy.address]);
      expect(after.stake).toBe(0n); // bond and 100 % of the rest (lazySlashBps = 10,000)
      expect(after.locked).toBe(0n);
      expect(lazyBefore.stake).toBe(parseEther("100"));
      const auditorRecord = await gov.publicClient.readContract({ address: gov.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "getAuditor", args: [lazy.address] });
      expect(auditorRecord.ejectedBlock).toBeGreaterThan(0);
      expect(auditorRecord.unclaimed).toBe(0n);
      expect(await gov.publicClient.readContract({ address: gov.deployment.contracts.auditManager, abi: auditManagerAbi, functionName: "isActiveMember", args: [net.manifest.modelId as Hex, lazy.address] })).toBe(false);
      // Its pay is forfeited: after the vesting delay its node's claim is refused and recorded.
      await net.advance(DEFAULT_DEPLOY_PARAMETERS.audit.vestDelay + 1);
      await lazy.node.tick();
      expect(lazy.node.deps.audits!.all().some((a) => a.state === "forfeited")).toBe(true);
      return;
    }
    throw new Error("the lazy verifier was never drawn for a canary in 25 jobs");
  });
});
