/**
 * Gas and calldata of every dispute transaction and of whole disputes at tiny, Llama-3-8B,
 * Llama-3-70B and Llama-3.1-405B dimensions, contexts 2k and 128k (`npm run bench:dispute`).
 *
 * Synthetic tensors of the real shapes: each proof's chunks are random values of the right
 * dtype and length, the claimed element is made wrong, and every Merkle proof has the depth
 * the real tree would have (the opened leaves form a small tree whose root is extended with
 * random siblings to the real depth). Gas depends only on chunk sizes and proof depths, so
 * this measures exactly what a real dispute costs. The worst case adds every data-availability
 * round (MAX_DEMAND_ROUNDS) with the most leaves (MAX_LEAVES_PER_DEMAND), each a full step
 * chunk, revealed in as many transactions as the calldata budget needs. Fails if any
 * transaction exceeds 2M gas or 32 KB. Writes bench/results/dispute.json.
 */
import { writeFileSync } from "node:fs";
import { QUICK, resultPath } from "./quick.js";
import { network } from "hardhat";
import { bytesToHex, keccak256, toHex, type Hex } from "viem";
import { CommitmentTree, chunkLeaf, processProof, STEP_DOMAIN, TRACE_DOMAIN, WEIGHTS_DOMAIN } from "../protocol/commitments/index.js";
import { planOpenings, SRC_STEP, SRC_TRACE, type Claim, type JudgeContext, type Loc } from "../protocol/evaluator/judge.js";
import { ceilDiv, dimsOf, OP_COUNT, OP_NAMES, opOf, shape, STEP_TENSORS, T, TOKEN_TENSOR_ID, type Dims } from "../protocol/evaluator/layout.js";
import { f32Bits, rng } from "../protocol/dispute/synthetic.js";
import { toHalfBits } from "../protocol/dispute/tensors.js";
import { locKey, REVEAL_CALLDATA_BUDGET, toLeafArg, type DemandLeaf } from "../protocol/dispute/demand.js";
import type { Architecture } from "../protocol/dispute/model.js";

type DimSet = { name: string; arch: Architecture; C: number };
const eps = f32Bits(1e-5);
const DIMS: DimSet[] = [
  { name: "tiny", C: 256, arch: { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, vocab: 256, context: 131072, normEpsBits: eps, ropeTheta: 10000 } },
  { name: "8b", C: 256, arch: { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256, context: 131072, normEpsBits: eps, ropeTheta: 500000 } },
  { name: "70b", C: 256, arch: { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672, vocab: 128256, context: 131072, normEpsBits: eps, ropeTheta: 500000 } },
  { name: "405b", C: 256, arch: { layers: 126, hidden: 16384, heads: 128, kvHeads: 8, ffn: 53248, vocab: 128256, context: 131072, normEpsBits: eps, ropeTheta: 500000 } },
];
const CONTEXTS = QUICK ? [2048] : [2048, 131072];

const log2ceil = (n: number) => Math.max(0, Math.ceil(Math.log2(n)));
const fmt = (n: number) => n.toLocaleString("en-US");
/** PROTOCOL §7.7: every dispute transaction stays under these. */
const TX_GAS_LIMIT = 2_000_000;
const TX_BYTES_LIMIT = 32 * 1024;

/** Leaf counts of the three real trees, for proof depths. */
function depths(a: Architecture, C: number, context: number, m: Dims) {
  const nd = ceilDiv(a.hidden, C);
  const hd = a.hidden / a.heads;
  const perLayer =
    2 * nd + (a.heads * hd + 2 * a.kvHeads * hd) * nd + a.hidden * ceilDiv(a.heads * hd, C) + 2 * a.ffn * nd + a.hidden * ceilDiv(a.ffn, C);
  const weights = 2 * a.vocab * nd + nd + a.layers * perLayer;
  const trace = context + (context - 1) * (a.layers + 1) * nd;
  let step = 0;
  for (const id of STEP_TENSORS) {
    const [rows, len] = shape(m, id);
    step += rows * ceilDiv(len, C);
  }
  return { weights: log2ceil(weights), trace: log2ceil(trace), step: log2ceil(step), stepLeaves: step };
}

/** One representative (largest-index, full-chunk) claim per op. */
function claims(m: Dims): (Claim & { head?: boolean })[] {
  const { d, heads: H, hd, kv, f, T: TT, kvHeads: G } = m;
  return [
    { tensor: T.EMBED, row: 0, col: d - 1 },
    { tensor: T.SS1_PART, row: TT - 1, col: 0 },
    { tensor: T.R1, row: 0, col: TT - 1 },
    { tensor: T.N1, row: TT - 1, col: 0 },
    { tensor: T.K_PART, row: TT * kv - 1, col: 0 },
    { tensor: T.D_PART, row: d - 1, col: 0 },
    { tensor: T.Y_D, row: 0, col: d - 1 },
    { tensor: T.V_T, row: kv - 1, col: TT - 1 },
    { tensor: T.K, row: TT * G - 1, col: hd - 1 },
    { tensor: T.S_PART, row: H * TT - 1, col: 0 },
    { tensor: T.S, row: H - 1, col: TT - 1 },
    { tensor: T.E, row: H - 1, col: TT - 1 },
    { tensor: T.Z_PART, row: H - 1, col: 0 },
    { tensor: T.Z, row: 0, col: H - 1 },
    { tensor: T.O_PART, row: H * hd - 1, col: 0 },
    { tensor: T.O, row: 0, col: H * hd - 1 },
    { tensor: T.X1, row: 0, col: d - 1 },
    { tensor: T.A, row: 0, col: f - 1 },
    { tensor: T.OUT, row: 0, col: d - 1 },
    { tensor: T.LOGIT_PART, row: m.vocab - 1, col: 0, head: true },
    { tensor: T.LOGIT, row: 0, col: m.vocab - 1, head: true },
    { tensor: T.ARGMAX, row: 0, col: m.vocab - 1, head: true },
  ];
}

type Built = { root: Hex; proofs: Map<string, Hex[]> };
const key = (l: Loc) => `${l.src}:${l.tensor}:${l.row}:${l.chunk}`;

/** A tree over the given leaves, extended with random siblings to `depth`. */
function paddedTree(leaves: Map<string, Hex>, depth: number, r: () => number): Built {
  const keys = [...leaves.keys()];
  const small = new CommitmentTree(keys.map((k) => leaves.get(k)!));
  const extra = Array.from({ length: Math.max(0, depth - log2ceil(keys.length)) }, () => bytesToHex(Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256))));
  const root = processProof(small.root, extra);
  return { root, proofs: new Map(keys.map((k, i) => [k, [...small.proof(i), ...extra]])) };
}

async function main() {
  const { viem, networkHelpers } = await network.create();
  const publicClient = await viem.getPublicClient();
  const [, prover, challenger] = await viem.getWalletClients();
  const token = await viem.deployContract("DisputeToken");
  const escrow = await viem.deployContract("MockJobEscrow");
  const models = await viem.deployContract("MockModelRegistry");
  const judge = await viem.deployContract("StepJudge");
  const BOND = 10n ** 18n;
  const DEMAND_FEE = 10n ** 15n;
  const game = await viem.deployContract("StepProofGame", [escrow.address, models.address, judge.address, token.address, BOND, 0, 3600n, 7200n, DEMAND_FEE]);
  await escrow.write.setGame([game.address]);
  await token.write.mint([challenger!.account.address, 10n ** 30n]);
  await token.write.approve([game.address, 2n ** 255n], { account: challenger!.account });
  const tol = Array.from({ length: OP_COUNT }, () => ({ atol: 4n, rtol: 1n << 16n }));
  const r = rng(42);
  let seq = 1n;

  const measure = async (hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    const tx = await publicClient.getTransaction({ hash });
    if (receipt.status !== "success") throw new Error(`tx reverted: ${hash}`);
    return { gas: Number(receipt.gasUsed), calldata: (tx.input.length - 2) / 2 };
  };

  // The Job struct grows (issue #8 added a bool): fill every field the compiled ABI names.
  const jobAbi = escrow.abi.find((x) => x.type === "function" && x.name === "setJob") as { inputs: { components: { name: string; type: string }[] }[] };
  const jobStruct = (job: Record<string, unknown>) =>
    Object.fromEntries(
      jobAbi.inputs[1]!.components.map((c) => [
        c.name,
        job[c.name] ?? (c.type === "bool" ? false : c.type.startsWith("uint") ? 0 : c.type === "address" ? prover!.account.address : `0x${"00".repeat(32)}`),
      ]),
    );
  const maxRounds = Number(await game.read.MAX_DEMAND_ROUNDS());
  const maxLeaves = Number(await game.read.MAX_LEAVES_PER_DEMAND());

  /**
   * The enlarged demand path's worst case: a dispute that spends every round on the most
   * leaves, each a full binary32 step chunk (the largest leaf: C·4 bytes plus a proof of the
   * step tree's depth), answered as the agent answers (split under REVEAL_CALLDATA_BUDGET).
   */
  async function demandPath(ds: DimSet, context: number, position: number, depth: number) {
    const modelId = keccak256(toHex(`demand-${ds.name}-${context}`));
    await models.write.registerModel([modelId, keccak256(toHex("w")), keccak256(toHex("m")), ds.arch, { traceDtype: 1, weightsDtype: 1, chunkSize: ds.C }, tol]);
    const hd = ds.arch.hidden / ds.arch.heads;
    if (ds.arch.kvHeads * hd < maxLeaves || position + 1 < ds.C) throw new Error("V_T rows must hold the demanded full chunks");
    // V_T rows are T long: chunk 0 of rows 0..15 are full.
    const leaves = Array.from({ length: maxLeaves }, (_, j): DemandLeaf => ({ src: SRC_STEP, tensor: T.V_T, row: j, chunk: 0 }));
    const bytes = new Map(leaves.map((l) => [locKey(l), new Uint8Array(Float32Array.from({ length: ds.C }, () => 0.01 + r() * 0.99).buffer)]));
    const tree = paddedTree(new Map(leaves.map((l) => [locKey(l), chunkLeaf({ domain: STEP_DOMAIN, tensorId: l.tensor, row: l.row, chunkIndex: l.chunk }, bytes.get(locKey(l))!)])), depth, r);
    const now = BigInt((await publicClient.getBlock()).timestamp);
    const jobId = seq++;
    await escrow.write.setJob([jobId, jobStruct({ prover: prover!.account.address, modelId, traceRoot: keccak256(toHex("t")), inputTokens: 1, outputTokens: context - 1, challengeDeadline: now + 10n ** 9n, status: 2 }) as never]);
    const layer = ds.arch.layers;
    await game.write.openDispute([jobId, position, layer], { account: challenger!.account });
    const id = (await game.read.disputeIdOf([jobId, position, layer, challenger!.account.address])) as Hex;
    await game.write.postStepRoot([id, tree.root], { account: prover!.account });
    const rounds: { demand: { gas: number; calldata: number }; reveals: { gas: number; calldata: number }[] }[] = [];
    const args = leaves.map(toLeafArg);
    for (let round = 0; round < maxRounds; round++) {
      const demand = await measure(await game.write.demandChunks([id, args], { account: challenger!.account }));
      const reveals = [];
      let mask = 0;
      while (mask !== (1 << leaves.length) - 1) {
        // The agent's packing (protocol/dispute/demand.ts revealArgs), on the synthetic tree.
        let used = 0;
        const data: Hex[] = [];
        const proofs: Hex[][] = [];
        leaves.forEach((l, i) => {
          const size = ds.C * 4 + 32 * depth + 128;
          if ((mask >> i) & 1 || (used > 0 && used + size > REVEAL_CALLDATA_BUDGET)) return void (data.push("0x"), proofs.push([]));
          used += size;
          mask |= 1 << i;
          data.push(bytesToHex(bytes.get(locKey(l))!));
          proofs.push(tree.proofs.get(locKey(l))!);
        });
        reveals.push(await measure(await game.write.revealChunks([id, args, data, proofs], { account: prover!.account })));
      }
      rounds.push({ demand, reveals });
    }
    const all = rounds.flatMap((x) => [x.demand, ...x.reveals]);
    return {
      leavesPerRound: leaves.length,
      rounds: rounds.length,
      revealTxPerRound: rounds[0]!.reveals.length,
      firstRound: rounds[0]!,
      gas: all.reduce((a, b) => a + b.gas, 0),
      txCount: all.length,
      maxTxGas: Math.max(...all.map((x) => x.gas)),
      maxTxCalldataBytes: Math.max(...all.map((x) => x.calldata)),
    };
  }

  const results: Record<string, unknown>[] = [];
  const table: string[] = [];
  for (const ds of QUICK ? DIMS.slice(0, 1) : DIMS) {
    for (const context of CONTEXTS) {
      const position = context - 2;
      const m = dimsOf(ds.arch, position, ds.C);
      const dep = depths(ds.arch, ds.C, context, m);
      const txs: Record<string, { gas: number; calldata: number }> = {};
      const perOp: Record<string, { gas: number; calldata: number; tensor: number }> = {};
      for (const claim of claims(m)) {
        const layer = claim.tensor === T.EMBED ? 0 : claim.head ? ds.arch.layers + 1 : ds.arch.layers;
        const op = opOf(claim.tensor, layer, ds.arch.layers);
        const ctx: JudgeContext = { position, layer, traceDtype: 1, weightsDtype: 1, chunkSize: ds.C, hidden: ds.arch.hidden, heads: ds.arch.heads, kvHeads: ds.arch.kvHeads, ffn: ds.arch.ffn, vocab: ds.arch.vocab, normEpsBits: eps, ropeTheta: ds.arch.ropeTheta, layers: ds.arch.layers, inputTokens: 1, samplingParams: 0n, ...tol[op]! };
        const plan = planOpenings(ctx, claim);
        if (claim.tensor === T.EMBED) plan[2] = { ...plan[2]!, row: 1 };
        if (claim.tensor === T.ARGMAX) plan[2] = { ...plan[2]!, chunk: 0 }; // next token 1 (token leaves hold 1)
        // Synthetic chunks: values in [0.01, 1) (positive keeps every op in its domain); the
        // claimed element is made wildly wrong so the proof wins.
        const bytes = new Map<string, Uint8Array>();
        for (const [i, loc] of plan.entries()) {
          if (bytes.has(key(loc))) continue;
          const n = Math.min(ds.C, loc.rowLen - loc.chunk * ds.C);
          let b: Uint8Array;
          if (loc.src === SRC_TRACE && loc.tensor === TOKEN_TENSOR_ID) b = new Uint8Array([1, 0, 0, 0]);
          else if (loc.src === SRC_STEP) {
            const v = Float32Array.from({ length: n }, () => 0.01 + r() * 0.99);
            if (i === 0) v[claim.col % ds.C] = 1e6;
            b = new Uint8Array(v.buffer);
          } else {
            const v = Uint16Array.from({ length: n }, () => toHalfBits(0.01 + r() * 0.99));
            if (i === 0) v[claim.col % ds.C] = toHalfBits(60000);
            b = new Uint8Array(v.buffer);
          }
          bytes.set(key(loc), b);
        }
        const trees = new Map<number, Built>();
        for (const [src, domain, depth] of [[0, TRACE_DOMAIN, dep.trace], [1, WEIGHTS_DOMAIN, dep.weights], [2, STEP_DOMAIN, dep.step]] as const) {
          const leaves = new Map<string, Hex>();
          for (const loc of plan.filter((l) => l.src === src)) leaves.set(key(loc), chunkLeaf({ domain, tensorId: loc.tensor, row: loc.row, chunkIndex: loc.chunk }, bytes.get(key(loc))!));
          if (leaves.size === 0) leaves.set("pad", keccak256(toHex(`pad${src}`)));
          trees.set(src, paddedTree(leaves, depth, r));
        }
        const modelId = keccak256(toHex(`model-${seq}`));
        await models.write.registerModel([modelId, trees.get(1)!.root, keccak256(toHex("m")), ds.arch, { traceDtype: 1, weightsDtype: 1, chunkSize: ds.C }, tol]);
        const now = BigInt((await publicClient.getBlock()).timestamp);
        // Token leaves sit in the padded trace-depth tree, which stands for both token roots too (the
        // judge opens tokens against promptRoot / outputRoot, PROTOCOL §3.4; the depth is the trace's,
        // an upper bound for either token tree).
        const traceRoot = trees.get(0)!.root;
        const job: Record<string, unknown> = { prover: prover!.account.address, modelId, traceRoot, promptRoot: traceRoot, outputRoot: traceRoot, inputTokens: 1, outputTokens: context - 1, challengeDeadline: now + 10n ** 9n, status: 2 };
        const full = jobStruct(job);
        const jobId = seq++;
        await escrow.write.setJob([jobId, full as never]);
        const open = await measure(await game.write.openDispute([jobId, position, layer], { account: challenger!.account }));
        const id = (await game.read.disputeIdOf([jobId, position, layer, challenger!.account.address])) as Hex;
        const post = await measure(await game.write.postStepRoot([id, trees.get(2)!.root], { account: prover!.account }));
        txs.openDispute = open;
        txs.postStepRoot = post;
        const openings = plan.map((loc) => ({ chunk: bytesToHex(bytes.get(key(loc))!), proof: trees.get(loc.src)!.proofs.get(key(loc))! }));
        const proof = await measure(await game.write.proveFraud([id, { tensor: BigInt(claim.tensor), row: BigInt(claim.row), col: BigInt(claim.col) }, openings], { account: challenger!.account }));
        const name = `${OP_NAMES[op]}(${Object.entries(T).find(([, v]) => v === claim.tensor)![0]})`;
        perOp[name] = { ...proof, tensor: claim.tensor };
      }
      // A prover that never answers: claimTimeout on one more dispute (same shapes).
      {
        const jobId = seq - 1n;
        const job = await escrow.read.getJob([jobId]);
        const again = seq++;
        await escrow.write.setJob([again, { ...job, status: 2, openDisputes: 0 } as never]);
        await game.write.openDispute([again, position, ds.arch.layers], { account: challenger!.account });
        const id = (await game.read.disputeIdOf([again, position, ds.arch.layers, challenger!.account.address])) as Hex;
        await networkHelpers.time.increase(3601n);
        txs.claimTimeout = await measure(await game.write.claimTimeout([id], { account: prover!.account }));
      }
      const path = await demandPath(ds, context, position, dep.step);
      txs.demandChunks = path.firstRound.demand;
      path.firstRound.reveals.forEach((x, i) => (txs[`revealChunks${i + 1}`] = x));
      txs.withdraw = await measure(await game.write.withdraw({ account: challenger!.account }));
      const proofs = Object.values(perOp);
      const maxProof = proofs.reduce((a, b) => (b.gas > a.gas ? b : a));
      const maxTxGas = Math.max(maxProof.gas, path.maxTxGas, ...Object.values(txs).map((t) => t.gas));
      const maxTxCalldataBytes = Math.max(path.maxTxCalldataBytes, ...proofs.map((p) => p.calldata), ...Object.values(txs).map((t) => t.calldata));
      // PROTOCOL §7.7 limits: every transaction ≤ 2M gas and ≤ 32 KB.
      if (maxTxGas > TX_GAS_LIMIT || maxTxCalldataBytes > TX_BYTES_LIMIT) {
        throw new Error(`${ds.name} ctx ${context}: a transaction exceeds the limits (gas ${maxTxGas}, calldata ${maxTxCalldataBytes} B)`);
      }
      const typical = txs.openDispute!.gas + txs.postStepRoot!.gas + maxProof.gas + txs.withdraw!.gas;
      const worst = typical + path.gas;
      const worstTx = 4 + path.txCount;
      results.push({
        dims: ds.name,
        context,
        chunkSize: ds.C,
        treeDepths: { trace: dep.trace, weights: dep.weights, step: dep.step },
        stepLeaves: dep.stepLeaves,
        maxTxGas,
        maxTxCalldataBytes,
        totalDisputeGas: worst,
        txCount: worstTx,
        demandPath: path,
        typicalDisputeGas: typical,
        typicalTxCount: 4,
        txs,
        proveFraudByOp: perOp,
      });
      table.push(
        `| ${ds.name} | ${context} | ${dep.trace}/${dep.weights}/${dep.step} | ${fmt(txs.openDispute!.gas)} | ${fmt(txs.postStepRoot!.gas)} | ${fmt(path.firstRound.demand.gas)} / ${path.firstRound.reveals.map((x) => fmt(x.gas)).join(" + ")} | ${fmt(maxProof.gas)} | ${fmt(maxTxGas)} | ${fmt(maxTxCalldataBytes)} | ${fmt(typical)} | ${fmt(worst)} (${worstTx} tx) |`,
      );
      console.log(`${ds.name} ctx ${context}: maxTxGas ${maxTxGas}, maxCalldata ${maxTxCalldataBytes}, dispute ${typical} / worst ${worst}`);
    }
  }
  const header = [
    `| dims | context | depth trace/weights/step | open | postStepRoot | demand ${maxLeaves} / reveal ${maxLeaves} (split) | max proveFraud | max tx gas | max tx calldata (B) | dispute (4 tx) | worst (${maxRounds} rounds × ${maxLeaves} leaves) |`,
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  console.log([...header, ...table].join("\n"));
  const last = results[results.length - 1] as { dims: string; context: number; proveFraudByOp: Record<string, { gas: number; calldata: number }> };
  console.log(`\nproveFraud by op at ${last.dims}, ${last.context}:`);
  for (const [k, v] of Object.entries(last.proveFraudByOp)) console.log(`  ${k.padEnd(36)} gas ${String(v.gas).padStart(8)}  calldata ${v.calldata}`);
  writeFileSync(resultPath("dispute.json"), JSON.stringify({ generatedAt: new Date().toISOString(), note: "synthetic tensors of the real shapes, real proof depths; gas from EDR receipts (Prague)", results }, null, 2) + "\n");
}

await main();
