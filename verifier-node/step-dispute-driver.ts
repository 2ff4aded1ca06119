import type { Address, Hex } from "viem";
import { jobEscrowAbi, stepProofGameAbi } from "../protocol/chain/generated/abi.js";
import type { StepproofClients } from "../protocol/chain/client.js";
import { sendContractTransaction } from "../protocol/chain/actions/send.js";
import { withdrawCredits } from "../protocol/chain/actions/withdrawCredits.js";
import { Phase, type Disk } from "../protocol/dispute/agent.js";
import { chunkReader, judgeContext, stepTree, type DisputeData } from "../protocol/dispute/proofs.js";
import { findFraud } from "../protocol/dispute/scan.js";
import { buildStep } from "../protocol/dispute/step.js";
import { modelTolerances, readChainDispute } from "../protocol/game/chain-dispute.js";
import { disputeDataFor } from "../node-common/dispute-data.js";
import type { DatabaseSync } from "node:sqlite";
import { DISPUTES_SCHEMA, endDispute, followDisputes, liveDisputes } from "../protocol/game/my-disputes.js";
import { openNodeDatabase } from "../protocol/node/database.js";
import { playTurn, revealedChunks } from "../protocol/game/play.js";
import { openDispute } from "../protocol/game/send-move.js";
import { modelRegistryAbi } from "../protocol/chain/generated/abi.js";
import type { Assessment, DisputeDriver, SuspectStep } from "./dispute-driver.js";
import type { TraceSource } from "./trace-source.js";

/**
 * The challenger side of the step-proof game, with the exact TypeScript evaluator deciding
 * before any bond is posted (PROTOCOL §7.6): assess → open → play every turn → withdraw.
 */
export class StepDisputeDriver implements DisputeDriver {
  /** Full traces fetched for assessment, by job; refetched after a restart. */
  readonly #data = new Map<string, Promise<DisputeData>>();
  /** The disputes this verifier opened, followed by a persisted cursor (protocol/game/my-disputes.ts). */
  readonly #db: DatabaseSync;

  constructor(
    readonly clients: StepproofClients,
    readonly traceSource: TraceSource,
    /** Model package directory per registered model id (lower-case hex). */
    readonly modelDirs: ReadonlyMap<string, string>,
    readonly log?: (line: string) => void,
    /** The node's database (the verifier's state); default in memory, read from the deployment block once per process. */
    db?: DatabaseSync,
    readonly logs: { confirmations?: number; maxRange?: number } = {},
  ) {
    this.#db = db ?? openNodeDatabase(":memory:", DISPUTES_SCHEMA);
  }

  async assess(step: SuspectStep): Promise<Assessment> {
    const job = await this.#job(step.jobId);
    const data = await this.#disputeData(step.jobId);
    const tolerances = await modelTolerances(this.clients, job.modelId);
    // The job's terms: the head step judges its sampling rule (PROTOCOL §4.4) at generated positions.
    const base = judgeContext(data, step.position, step.layer, { atol: 0n, rtol: 0n }, { inputTokens: Number(job.inputTokens), samplingParams: job.samplingParams });
    let hits;
    if (step.layer === 0) {
      hits = findFraud(base, { d: data.arch.hidden } as never, tolerances, chunkReader(data), { limit: 1 });
    } else {
      const own = buildStep(data.arch, data.weights, data.trace, step.position, step.layer, data.encoding.chunkSize);
      hits = findFraud(base, own.dims, tolerances, chunkReader({ ...data, step: own, stepTree: stepTree(own) }), { limit: 1 });
    }
    const [hit] = hits;
    if (!hit) return { provable: false, detail: "no element of the step violates its tolerance" };
    return { provable: true, detail: `op ${hit.verdict.op} element (${hit.claim.tensor}, ${hit.claim.row}, ${hit.claim.col}) violates its tolerance` };
  }

  async open(step: SuspectStep): Promise<void> {
    await openDispute(this.clients, { jobId: step.jobId, position: step.position, layer: step.layer });
  }

  async advance(): Promise<number> {
    const me = this.clients.walletClient!.account.address;
    let moves = 0;
    // Only the live disputes this verifier opened: each DisputeOpened log is read once.
    await followDisputes({ db: this.#db, clients: this.clients, filter: { challenger: me }, ...this.logs });
    for (const { id, jobId, openedBlock } of liveDisputes(this.#db)) {
      const from = { fromBlock: openedBlock };
      const c = await readChainDispute(this.clients, id, from);
      if (c.phase !== Phase.AwaitingStepRoot && c.phase !== Phase.AwaitingProof && c.phase !== Phase.AwaitingData) {
        endDispute(this.#db, id);
        continue;
      }
      const played = await playTurn(this.clients, "challenger", id, async (chain) => this.#disk(jobId, chain.position, chain.layer, id, openedBlock), from);
      if (played.move && played.move.kind !== "wait") {
        moves++;
        this.log?.(`dispute ${id.slice(0, 10)}… (job ${jobId}): ${played.move.kind}`);
      }
    }
    // Bond back and reward are pull payments: collect them.
    const credit = await this.clients.publicClient.readContract({ address: this.clients.deployment.contracts.stepProofGame, abi: stepProofGameAbi, functionName: "credits", args: [me] });
    if (credit > 0n) await sendContractTransaction(this.clients, { address: this.clients.deployment.contracts.stepProofGame, abi: stepProofGameAbi, functionName: "withdraw", args: [], what: "withdraw dispute credits" });
    await withdrawCredits(this.clients);
    return moves;
  }

  async #disk(jobId: bigint, position: number, layer: number, disputeId: Hex, openedBlock: bigint): Promise<Disk> {
    const data = await this.#disputeData(jobId);
    const revealed = await revealedChunks(this.clients, disputeId, { fromBlock: openedBlock });
    if (layer === 0) return { data, revealed };
    // Our own recomputation of the step: if the prover posted the same root, it is the
    // prover's step and every element can be checked without any data demand.
    const servedStep = buildStep(data.arch, data.weights, data.trace, position, layer, data.encoding.chunkSize);
    return { data, revealed, servedStep };
  }

  async #job(jobId: bigint) {
    return this.clients.publicClient.readContract({ address: this.clients.deployment.contracts.jobEscrow, abi: jobEscrowAbi, functionName: "getJob", args: [jobId] });
  }

  #disputeData(jobId: bigint): Promise<DisputeData> {
    const key = jobId.toString();
    let p = this.#data.get(key);
    if (!p) {
      p = (async () => {
        const job = await this.#job(jobId);
        const dir = this.modelDirs.get(job.modelId.toLowerCase());
        if (!dir) throw new Error(`no model package for ${job.modelId}`);
        const model = await this.clients.publicClient.readContract({ address: this.clients.deployment.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [job.modelId] });
        const layers = model.arch.layers;
        const trace = await this.traceSource.fetch({
          jobId,
          prover: job.prover as Address,
          traceRoot: job.traceRoot,
          promptRoot: job.promptRoot,
          outputRoot: job.outputRoot,
          boundaries: Array.from({ length: layers + 1 }, (_, l) => l),
          shape: { hidden: model.arch.hidden, chunkSize: model.encoding.chunkSize, dtype: model.encoding.traceDtype as 1 | 2, tokens: job.inputTokens + job.outputTokens, inputTokens: job.inputTokens },
        });
        return disputeDataFor(dir, trace, job.traceRoot);
      })();
      this.#data.set(key, p);
      p.catch(() => this.#data.delete(key));
    }
    return p;
  }
}
