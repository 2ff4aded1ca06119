/**
 * Withholding: a prover that does not serve its trace off-chain is forced on-chain by
 * TraceAvailability (PROTOCOL §8.1). It loses its job when it cannot answer, and a verifier
 * that forces the rows it was refused still finds and proves the wrong step.
 */
import { bytesToHex, parseAbiItem, type Hex } from "viem";
import { JobStatus } from "../../protocol/chain/contracts.js";
import { answerAvailability, challengeAvailability, claimUnanswered, type TraceLeaf } from "../../protocol/chain/actions/availability.js";
import { tokenOpeningProof, type DisputeData } from "../../protocol/dispute/proofs.js";
import { chunkBytes, type EncodedTensor } from "../../protocol/dispute/tensors.js";
import { TOKEN_TENSOR_ID } from "../../protocol/evaluator/layout.js";
import { tokenBytes } from "../../protocol/dispute/model.js";
import { bumpElement, locate } from "./cheats.js";
import { afterAuditPriority, blockNumber, collectGas, gameCredits, honestData, jobStatus, openAndCommit, promptOf, withTrace, type World } from "./env.js";
import { playDispute } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

const P = 2;
const NEW = 6;

/** What an honest holder of `data` publishes for `leaves`. */
export function answerFrom(data: DisputeData, inputTokens: number, leaves: readonly TraceLeaf[]): { data: Hex[]; proofs: Hex[][] } {
  const C = data.encoding.chunkSize;
  const out = { data: [] as Hex[], proofs: [] as Hex[][] };
  for (const l of leaves) {
    if (l.tensor === TOKEN_TENSOR_ID) {
      out.data.push(bytesToHex(tokenBytes(data.trace.tokens[l.row]!)));
      out.proofs.push(tokenOpeningProof(data.trace.tokens, inputTokens, l.row));
    } else {
      out.data.push(bytesToHex(chunkBytes(data.trace.hidden[l.tensor]!, l.row, l.chunk, C)));
      out.proofs.push(data.traceTree.proof(l.tensor, l.row, l.chunk));
    }
  }
  return out;
}

/**
 * One challenge by the verifier; the prover answers from `answer` (or not at all, and the
 * verifier claims the unanswered deadline). `feesBack`: the verifier's fees came back or the
 * answer earned them for the prover, as the rules say.
 */
export async function availabilityRound(w: World, p: { jobId: bigint; leaves: TraceLeaf[]; answer: { data: DisputeData; inputTokens: number } | undefined }): Promise<{ answered: boolean; feesBack: boolean }> {
  const before = await gameCredits(w, "verifier");
  await afterAuditPriority(w, p.jobId, "verifier");
  const { challengeId } = await challengeAvailability(w.as.verifier, { jobId: p.jobId, leaves: p.leaves });
  if (p.answer) {
    const a = answerFrom(p.answer.data, p.answer.inputTokens, p.leaves);
    await answerAvailability(w.as.cheater, { challengeId, leaves: p.leaves, ...a });
    return { answered: true, feesBack: true };
  }
  await w.warp(3_601n);
  await claimUnanswered(w.as.verifier, challengeId);
  return { answered: false, feesBack: (await gameCredits(w, "verifier")) > before };
}

const answered = parseAbiItem("event AvailabilityAnswered(bytes32 indexed challengeId, uint256 indexed jobId, (uint256 tensor, uint256 row, uint256 chunk)[] leaves, bytes[] data, bytes32[][] proofs)");

/** Hidden-state chunks answered on-chain for a job (already verified by the contract), by "l:row:chunk". */
export async function answeredChunks(w: World, jobId: bigint): Promise<Map<string, Uint8Array>> {
  const c = w.as.verifier;
  const logs = await c.publicClient.getLogs({ address: c.deployment.contracts.traceAvailability, event: answered, args: { jobId }, fromBlock: BigInt(c.deployment.startBlock), toBlock: "latest" });
  const out = new Map<string, Uint8Array>();
  for (const log of logs) log.args.leaves!.forEach((l, i) => out.set(`${l.tensor}:${l.row}:${l.chunk}`, Buffer.from(log.args.data![i]!.slice(2), "hex")));
  return out;
}

/** Every leaf of boundary `l` over the positions a trace holds (0..N−2): what a layer check of `l` reads. */
export function boundaryLeaves(w: World, l: number, positions: number): TraceLeaf[] {
  const nd = Math.ceil(w.model.arch.hidden / w.model.encoding.chunkSize);
  const out: TraceLeaf[] = [];
  for (let row = 0; row < positions; row++) for (let chunk = 0; chunk < nd; chunk++) out.push({ tensor: l, row, chunk });
  return out;
}

/**
 * The verifier's view of a trace it was served except boundary `l`: that boundary rebuilt from
 * the chunks answered on-chain only (it throws if one was never answered).
 */
export async function viewWithForcedBoundary(w: World, committed: DisputeData, jobId: bigint, l: number): Promise<DisputeData> {
  const h = committed.trace.hidden[l]!;
  const got = await answeredChunks(w, jobId);
  const C = w.model.encoding.chunkSize;
  const nd = Math.ceil(w.model.arch.hidden / C);
  const rebuilt = new Uint16Array(h.data.length);
  for (let row = 0; row <= committed.trace.tokens.length - 2; row++) {
    for (let chunk = 0; chunk < nd; chunk++) {
      const bytes = got.get(`${l}:${row}:${chunk}`);
      if (!bytes) throw new Error(`leaf ${l}:${row}:${chunk} was never answered`);
      rebuilt.set(new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), row * h.rowLength + chunk * C);
    }
  }
  const viewHidden = committed.trace.hidden.slice();
  viewHidden[l] = { ...h, data: rebuilt } as EncodedTensor;
  const view = withTrace(w, { ...committed.trace, hidden: viewHidden });
  if (view.traceTree.root !== committed.traceTree.root) throw new Error("the rebuilt view does not match the trace root");
  return view;
}

/** The prover lost (or never computed) its trace: it answers nothing. */
export async function traceWithheldAll(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(41, P);
  const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: honestData(w, prompt, NEW) });
  const r = await availabilityRound(w, { jobId, leaves: [{ tensor: 1, row: 0, chunk: 0 }, { tensor: 2, row: 3, chunk: 1 }], answer: undefined });
  await collectGas(w, ledger, from);
  const slashed = (await jobStatus(w, jobId)) === JobStatus.Slashed;
  return ledger.row("trace-withheld-all", { cheaterWon: !slashed, honestLost: !r.feesBack, outcome: slashed ? "slashed: challenge unanswered" : "not slashed" });
}

/**
 * The prover corrupted h[3][2] and serves every row except boundary 2 — exactly what a
 * re-execution of layer 2 needs. The verifier forces those rows on-chain (16 leaves a
 * challenge), rebuilds its view from the answers, finds the wrong step and proves it.
 */
export async function traceWithheldSelective(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const prompt = promptOf(42, P);
  const committed = bumpElement(honestData(w, prompt, NEW), 3, 2, 5, 0.5);
  const jobId = await openAndCommit(w, { prover: "cheater", prompt, data: committed });
  const needed = boundaryLeaves(w, 2, committed.trace.tokens.length - 1);
  for (let i = 0; i < needed.length; i += 16) await availabilityRound(w, { jobId, leaves: needed.slice(i, i + 16), answer: { data: committed, inputTokens: P } });
  const view = await viewWithForcedBoundary(w, committed, jobId, 2);
  const step = locate(view, { inputTokens: P, samplingParams: 0n });
  if (!step) throw new Error("trace-withheld-selective: nothing provable in the forced rows");
  const r = await playDispute(w, { jobId, ...step, prover: { role: "cheater", disk: () => ({ data: committed }) }, challenger: { role: "verifier", data: view } });
  await collectGas(w, ledger, from);
  const slashed = (await jobStatus(w, jobId)) === JobStatus.Slashed;
  return ledger.row("trace-withheld-selective", {
    cheaterWon: !slashed,
    honestLost: false,
    outcome: slashed ? `${Math.ceil(needed.length / 16)} challenges forced ${needed.length} leaves; step (${step.position}, ${step.layer}) proven (${r.moves.length} moves)` : `not slashed: ${r.moves.join(" ")}`,
  });
}
