/**
 * honest-<setup>: a prover running the real runtime (onnxruntime, the stepproof-tiny package)
 * on another setup than the verifier's reference — fp16 graphs, two threads — commits a job;
 * the verifier disputes the steps the suite touches anyway (a block step, the last block and
 * the head step). The honest prover must win every one (the challenger finds nothing and runs
 * out of clock), and no claim of any checked step may be provable in the exact judge.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, parseEther, toHex, type Hex } from "viem";
import { registerModel } from "../../protocol/chain/actions/registerModel.js";
import { registerNode } from "../../protocol/chain/actions/registerNode.js";
import { openJob } from "../../protocol/chain/actions/openJob.js";
import { commitResult } from "../../protocol/chain/actions/commitResult.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { Phase } from "../../protocol/dispute/agent.js";
import { traceTree, weightsTree, type Weights } from "../../protocol/dispute/model.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import type { EncodedTensor } from "../../protocol/dispute/tensors.js";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
import { loadModelWeights } from "../../runtime/model/weights.js";
import { generate } from "../../runtime/generate.js";
import { releaseAllSessions, type SessionConfig } from "../../runtime/session.js";
import { provableStep } from "./cheats.js";
import { blockNumber, collectGas, jobStatus, stakeOf, TOLERANCES, type World } from "./env.js";
import { playDisputes } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

export const HONEST_SETUPS: { name: string; session: SessionConfig }[] = [
  { name: "honest-f32-1thread", session: { compute: "f32", intraOpThreads: 1 } },
  { name: "honest-f16-1thread", session: { compute: "f16", intraOpThreads: 1 } },
  { name: "honest-f32-2threads", session: { compute: "f32", intraOpThreads: 2 } },
];

type RuntimeModel = { dir: string; modelId: Hex; base: Omit<DisputeData, "trace" | "traceTree"> };

/** Generate and register the runtime's tiny package once per world. */
export async function runtimeModel(w: World): Promise<RuntimeModel> {
  const dir = join(mkdtempSync(join(tmpdir(), "stepproof-adversary-model-")), "tiny");
  await generateSyntheticModel({ preset: "tiny", dir, traceDtype: 1 });
  const lw = await loadModelWeights(dir);
  const { architecture: arch, encoding } = lw.manifest;
  const weights: Weights = new Map();
  for (const t of lw.manifest.weights.tensors) {
    const c = lw.tensor(t.tensorId);
    weights.set(t.tensorId, { rows: c.rows, rowLength: c.rowLength, dtype: 1, data: c.data } satisfies EncodedTensor);
  }
  const base = { arch, encoding: { traceDtype: 1 as const, weightsDtype: 1 as const, chunkSize: encoding.chunkSize }, weights, weightsTree: weightsTree(weights, encoding.chunkSize) };
  const modelId = lw.manifest.modelId as Hex;
  await registerModel(w.as.governance, { modelId, weightsRoot: base.weightsTree.root, manifestHash: keccak256(toHex("adversary runtime tiny")), architecture: arch, encoding: base.encoding, tolerances: TOLERANCES });
  await registerNode(w.as.honestProver, { role: "prover", stake: 0n, endpoint: "", offers: [{ modelId, inputPrice: parseEther("0.001"), outputPrice: parseEther("0.001") }] });
  return { dir, modelId, base };
}

export async function honestSetup(w: World, m: RuntimeModel, setup: (typeof HONEST_SETUPS)[number]): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const stake = await stakeOf(w, "honestProver");
  const prompt = [256, ...Buffer.from("honest")];
  const P = prompt.length;
  const opened = await openJob(w.as.client, { prover: w.as.honestProver.walletClient!.account.address, modelId: m.modelId, promptRoot: tokenRoot(prompt, 0), inputTokens: P, maxOutputTokens: 4 });
  const r = await generate({ modelDir: m.dir, promptTokens: prompt, maxNewTokens: 4, samplingParams: 0n, jobId: opened.jobId, trace: true, stopAtEos: false, session: setup.session });
  const N = r.tokens.length;
  const { arch } = m.base;
  const hidden: EncodedTensor[] = [];
  for (let l = 0; l <= arch.layers; l++) {
    const data = new Uint16Array((N - 1) * arch.hidden);
    for (let t = 0; t < N - 1; t++) data.set(r.trace!.hiddenRow(t, l) as Uint16Array, t * arch.hidden);
    hidden.push({ rows: N - 1, rowLength: arch.hidden, dtype: 1, data });
  }
  const trace = { tokens: r.tokens, hidden };
  const data: DisputeData = { ...m.base, trace, traceTree: traceTree(trace, m.base.encoding.chunkSize) };
  if (data.traceTree.root !== r.trace!.root) throw new Error(`${setup.name}: the dispute code does not rebuild the runtime's trace root`);
  await commitResult(w.as.honestProver, { jobId: opened.jobId, traceRoot: data.traceTree.root, outputRoot: tokenRoot(r.tokens.slice(P), P), outputTokens: N - P });
  const job = { inputTokens: P, samplingParams: 0n, jobId: opened.jobId };
  // The exact judge over every claim of every step the suite touches: nothing may be provable.
  const steps = [{ position: N - 2, layer: 1 }, { position: N - 2, layer: arch.layers }, { position: N - 2, layer: arch.layers + 1 }, { position: 0, layer: 0 }];
  const provable = steps.filter((s) => provableStep(data, s.position, s.layer, job));
  // And on-chain: the verifier disputes the block steps anyway; the honest prover must win.
  // Played together, as the prover node plays all its disputes in each tick.
  const played = await playDisputes(
    w,
    steps.slice(0, 3).map((s) => ({ jobId: opened.jobId, ...s, prover: { role: "honestProver" as const, disk: () => ({ data }) }, challenger: { role: "verifier" as const, data } })),
  );
  const outcomes = played.map((o) => o.phase);
  await collectGas(w, ledger, from);
  await releaseAllSessions();
  const lost = provable.length > 0 || outcomes.some((p) => p !== Phase.ProverWon) || (await stakeOf(w, "honestProver")) < stake || (await jobStatus(w, opened.jobId)) === 5;
  return ledger.row(setup.name, {
    cheaterWon: false,
    honestLost: lost,
    outcome: lost ? `provable: ${JSON.stringify(provable)}; phases ${outcomes.join(",")}` : `${steps.length} steps judged exactly, nothing provable; ${outcomes.length} disputes won by the prover`,
  });
}
