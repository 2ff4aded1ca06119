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
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { generateSyntheticModel } from "../../runtime/model/synthetic.js";
import { disputeDataFor, modelDisputeData } from "../../node-common/dispute-data.js";
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

type RuntimeModel = { dir: string; modelId: Hex; arch: DisputeData["arch"] };

/** Generate and register the runtime's tiny package once per world (loaded as the nodes load it). */
export async function runtimeModel(w: World): Promise<RuntimeModel> {
  const dir = join(mkdtempSync(join(tmpdir(), "stepproof-adversary-model-")), "tiny");
  await generateSyntheticModel({ preset: "tiny", dir, traceDtype: 1 });
  const m = await modelDisputeData(dir);
  const modelId = m.manifest.modelId as Hex;
  await registerModel(w.as.governance, { modelId, weightsRoot: m.weightsTree.root, manifestHash: keccak256(toHex("adversary runtime tiny")), architecture: m.arch, encoding: m.encoding, tolerances: TOLERANCES });
  await registerNode(w.as.honestProver, { role: "prover", stake: 0n, endpoint: "", offers: [{ modelId, inputPrice: parseEther("0.001"), outputPrice: parseEther("0.001") }] });
  await registerNode(w.as.verifier, { role: "verifier", stake: 0n, endpoint: "", auditPools: [modelId] });
  return { dir, modelId, arch: m.arch };
}

export async function honestSetup(w: World, m: RuntimeModel, setup: (typeof HONEST_SETUPS)[number]): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const stake = await stakeOf(w, "honestProver");
  const prompt = [256, ...Buffer.from("honest")];
  const P = prompt.length;
  const opened = await openJob(w.as.client, { prover: w.as.honestProver.walletClient!.account.address, modelId: m.modelId, promptRoot: tokenRoot(prompt, 0), inputTokens: P, maxOutputTokens: 4 });
  const r = await generate({ modelDir: m.dir, promptTokens: prompt, maxNewTokens: 4, samplingParams: 0n, trace: true, stopAtEos: false, session: setup.session });
  const N = r.tokens.length;
  const { arch } = m;
  // The prover node's own loader: it throws unless the rebuilt trace reproduces the runtime's root.
  const data = await disputeDataFor(m.dir, { tokens: r.tokens, row: (t, l) => r.trace!.hiddenRow(t, l) }, r.trace!.root);
  await commitResult(w.as.honestProver, { jobId: opened.jobId, traceRoot: data.traceTree.root, outputRoot: tokenRoot(r.tokens.slice(P), P), outputTokens: N - P });
  const job = { inputTokens: P, samplingParams: 0n };
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
