/**
 * What forcing a withheld trace on-chain costs (`npm run bench:availability`, PROTOCOL §8.1):
 * gas and calldata of a 16-leaf TraceAvailability challenge and its answer at tiny, Llama-3-8B,
 * Llama-3-70B and Llama-3.1-405B dimensions, 2k and 128k contexts, and what a verifier's checks
 * need at those sizes: one re-executed layer over all positions (its check, §8 step 3) and one
 * step's own trace inputs (a single position's proof).
 *
 * The answered chunks are random binary16 rows of the real chunk size and every Merkle proof has
 * the depth the real trace tree would have (a small tree over the answered leaves, extended with
 * random siblings): gas depends only on chunk sizes and proof depths. Writes
 * bench/results/availability.json.
 */
import { writeFileSync } from "node:fs";
import { QUICK, resultPath } from "./quick.js";
import { network } from "hardhat";
import { bytesToHex, keccak256, toHex, type Hex } from "viem";
import { chunkLeaf, CommitmentTree, processProof, TRACE_DOMAIN } from "../protocol/commitments/index.js";
import { ceilDiv } from "../protocol/evaluator/layout.js";
import { f32Bits, rng } from "../protocol/dispute/synthetic.js";
import { recommendedTolerances } from "../protocol/game/tolerances.js";

const LEAF_FEE = 10n ** 15n;
const eps = f32Bits(1e-5);
const DIMS = [
  { name: "tiny", C: 32, arch: { layers: 4, hidden: 64, heads: 4, kvHeads: 2, ffn: 176, vocab: 259, normEpsBits: eps, ropeTheta: 10000 } },
  { name: "8b", C: 256, arch: { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 14336, vocab: 128256, normEpsBits: eps, ropeTheta: 500000 } },
  { name: "70b", C: 256, arch: { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672, vocab: 128256, normEpsBits: eps, ropeTheta: 500000 } },
  { name: "405b", C: 256, arch: { layers: 126, hidden: 16384, heads: 128, kvHeads: 8, ffn: 53248, vocab: 128256, normEpsBits: eps, ropeTheta: 500000 } },
];
const CONTEXTS = QUICK ? [2048] : [2048, 131072];
const PER_CHALLENGE = 16;
const log2ceil = (n: number) => Math.max(0, Math.ceil(Math.log2(n)));

async function main() {
  const { viem } = await network.create();
  const publicClient = await viem.getPublicClient();
  const [deployer, prover, challenger] = await viem.getWalletClients();
  const token = await viem.deployContract("DisputeToken");
  const escrow = await viem.deployContract("MockJobEscrow");
  const models = await viem.deployContract("MockModelRegistry");
  const av = await viem.deployContract("TraceAvailability", [escrow.address, models.address, token.address, LEAF_FEE, 3600n]);
  await escrow.write.setGame([av.address]);
  await token.write.mint([challenger!.account.address, 10n ** 30n]);
  await token.write.approve([av.address, 2n ** 255n], { account: challenger!.account });
  const r = rng(7);
  const rows: Record<string, unknown>[] = [];
  let jobId = 1n;

  const receiptOf = async (hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`tx reverted: ${hash}`);
    const tx = await publicClient.getTransaction({ hash });
    return { gas: Number(receipt.gasUsed), calldata: (tx.input.length - 2) / 2 };
  };

  for (const ds of QUICK ? DIMS.slice(0, 1) : DIMS) {
    const modelId = keccak256(toHex(`bench-${ds.name}`));
    const context = Math.max(...CONTEXTS);
    const C = ds.C;
    await models.write.registerModel([modelId, keccak256(toHex("w")), keccak256(toHex("m")), { ...ds.arch, context }, { traceDtype: 1, weightsDtype: 1, chunkSize: C }, recommendedTolerances({ atol: 2 ** -10, rtol: 2 ** -8 })]);
    const nd = ceilDiv(ds.arch.hidden, C);
    for (const N of CONTEXTS) {
      const depth = log2ceil(N + (N - 1) * (ds.arch.layers + 1) * nd);
      // 16 hidden-state leaves of boundary 1, positions 0..15, chunk 0, in one small tree padded to depth.
      const leaves = Array.from({ length: PER_CHALLENGE }, (_, i) => ({ tensor: 1n, row: BigInt(i), chunk: 0n }));
      const data = leaves.map(() => Uint8Array.from({ length: 2 * Math.min(C, ds.arch.hidden) }, (_, i) => (i % 2 === 1 ? 0x3c : Math.floor(r() * 256))));
      const small = new CommitmentTree(leaves.map((l, i) => chunkLeaf({ domain: TRACE_DOMAIN, tensorId: 1, row: Number(l.row), chunkIndex: 0 }, data[i]!)));
      const extra = Array.from({ length: Math.max(0, depth - log2ceil(PER_CHALLENGE)) }, () => bytesToHex(Uint8Array.from({ length: 32 }, () => Math.floor(r() * 256))));
      const root = processProof(small.root, extra);
      const now = BigInt((await publicClient.getBlock()).timestamp);
      const job: Record<string, unknown> = { client: deployer!.account.address, prover: prover!.account.address, modelId, traceRoot: root, promptRoot: root, outputRoot: root, inputTokens: 1, outputTokens: N - 1, challengeDeadline: now + 86_400n, status: 2 };
      const abi = escrow.abi.find((x) => x.type === "function" && x.name === "setJob") as { inputs: { components: { name: string; type: string }[] }[] };
      const full = Object.fromEntries(abi.inputs[1]!.components.map((c) => [c.name, job[c.name] ?? (c.type === "bool" ? false : c.type.startsWith("uint") ? 0 : c.type === "address" ? deployer!.account.address : "0x" + "00".repeat(32))]));
      const id = jobId++;
      await escrow.write.setJob([id, full as never]);
      const challenge = await receiptOf(await av.write.challenge([id, leaves], { account: challenger!.account }));
      const cid = (await av.read.challengeIdOf([id, challenger!.account.address, leaves])) as Hex;
      const answer = await receiptOf(
        await av.write.answer([cid, leaves, data.map((b) => bytesToHex(b)), leaves.map((_, i) => [...small.proof(i), ...extra])], { account: prover!.account }),
      );
      const perRound = challenge.gas + answer.gas;
      // One layer re-executed over all positions needs rows l−1 and l of positions 0..N−2 (§4.6);
      // one step (t = N−2, l) needs h[0..t][l−1] and h[t][l] (§7.2).
      const layerLeaves = 2 * (N - 1) * nd;
      const stepLeaves = (N - 1) * nd + nd;
      const row = {
        dims: ds.name,
        context: N,
        traceDepth: depth,
        challengeGas: challenge.gas,
        answerGas: answer.gas,
        answerCalldata: answer.calldata,
        gasPerLeaf: Math.round(perRound / PER_CHALLENGE),
        layerCheckLeaves: layerLeaves,
        layerCheckGas: Math.ceil(layerLeaves / PER_CHALLENGE) * perRound,
        stepLeaves,
        stepGas: Math.ceil(stepLeaves / PER_CHALLENGE) * perRound,
        challengerFeesPerLayerCheck: `${layerLeaves} × leafFee`,
      };
      rows.push(row);
    }
  }
  console.table(rows.map((x) => ({ ...x, layerCheckGas: (x.layerCheckGas as number).toExponential(2), stepGas: (x.stepGas as number).toExponential(2) })));
  for (const x of rows) {
    if ((x.answerGas as number) > 2_000_000 || (x.answerCalldata as number) > 32_768) throw new Error(`answer over budget at ${x.dims}/${x.context}`);
  }
  const out = resultPath("availability.json");
  writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), leavesPerChallenge: PER_CHALLENGE, rows }, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
