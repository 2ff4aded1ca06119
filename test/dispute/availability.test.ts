/**
 * Trace availability challenges (PROTOCOL §8.1) on EDR against the mock escrow: a prover that
 * does not publish demanded trace leaves by the deadline is slashed; one that does is paid the
 * leaf fees and its job unfreezes; only leaves an honest trace holds can be demanded; fees and
 * credits always add up to the contract's balance.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { keccak256, toHex, type Hex } from "viem";
import { chunkLeaf, TRACE_DOMAIN } from "../../protocol/commitments/index.js";
import { IndexedTree, tokenBytes, type Trace } from "../../protocol/dispute/model.js";
import { chunkBytes } from "../../protocol/dispute/tensors.js";
import { TOKEN_TENSOR_ID } from "../../protocol/evaluator/layout.js";
import type { DisputeData } from "../../protocol/dispute/proofs.js";
import { tinyData, tolerances } from "./fixture.js";
import { MODEL_ID } from "./chain.js";

const FEE = 10n ** 15n;
const WINDOW = 1800n;
const P = 2; // prompt tokens

/** Token leaves of positions [from, to) as their own tree: the prompt or output root (§3.4). */
function tokenTree(trace: Trace, from: number, to: number): IndexedTree {
  const entries = trace.tokens.slice(from, to).map((tok, i) => ({
    tensor: TOKEN_TENSOR_ID,
    row: from + i,
    chunk: 0,
    leaf: chunkLeaf({ domain: TRACE_DOMAIN, tensorId: TOKEN_TENSOR_ID, row: from + i, chunkIndex: 0 }, tokenBytes(tok)),
  }));
  return new IndexedTree(entries);
}

async function deploy(data: DisputeData) {
  const { viem, networkHelpers } = await network.create();
  const [deployer, prover, challenger] = await viem.getWalletClients();
  const publicClient = await viem.getPublicClient();
  const token = await viem.deployContract("DisputeToken");
  const escrow = await viem.deployContract("MockJobEscrow");
  const models = await viem.deployContract("MockModelRegistry");
  const av = await viem.deployContract("TraceAvailability", [escrow.address, models.address, token.address, FEE, WINDOW]);
  await escrow.write.setGame([av.address]);
  for (const who of [challenger!, prover!]) {
    await token.write.mint([who.account.address, 10n ** 21n]);
    await token.write.approve([av.address, 2n ** 255n], { account: who.account });
  }
  await models.write.registerModel([MODEL_ID, data.weightsTree.root, keccak256(toHex("manifest")), data.arch, data.encoding, tolerances()]);
  return { viem, networkHelpers, publicClient, token, escrow, models, av, deployer: deployer!, prover: prover!, challenger: challenger! };
}
type D = Awaited<ReturnType<typeof deploy>>;

describe("trace availability challenges", () => {
  const data = tinyData({ tokens: 6, seed: 3 });
  const N = data.trace.tokens.length;
  const promptTree = tokenTree(data.trace, 0, P);
  const outputTree = tokenTree(data.trace, P, N);
  const C = data.encoding.chunkSize;
  let d: D;
  let jobId = 1n;

  beforeAll(async () => {
    d = await deploy(data);
  });

  async function committedJob(): Promise<bigint> {
    const now = BigInt((await d.publicClient.getBlock()).timestamp);
    const job: Record<string, unknown> = {
      client: d.deployer.account.address,
      prover: d.prover.account.address,
      modelId: MODEL_ID,
      promptRoot: promptTree.root,
      traceRoot: data.traceTree.root,
      outputRoot: outputTree.root,
      inputTokens: P,
      outputTokens: N - P,
      challengeDeadline: now + 86_400n,
      status: 2,
    };
    const abi = d.escrow.abi.find((x) => x.type === "function" && x.name === "setJob") as { inputs: { components: { name: string; type: string }[] }[] };
    const full = Object.fromEntries(abi.inputs[1]!.components.map((c) => [c.name, job[c.name] ?? (c.type === "bool" ? false : c.type.startsWith("uint") ? 0 : c.type === "address" ? d.deployer.account.address : "0x" + "00".repeat(32))]));
    const id = jobId++;
    await d.escrow.write.setJob([id, full as never]);
    return id;
  }

  const hidden = (l: number, row: number, chunk: number) => ({ tensor: BigInt(l), row: BigInt(row), chunk: BigInt(chunk) });
  const tok = (row: number) => ({ tensor: BigInt(TOKEN_TENSOR_ID), row: BigInt(row), chunk: 0n });
  type Leaf = ReturnType<typeof hidden>;
  /** What an honest prover publishes for `leaves`: bytes and proofs against the right root. */
  function answerOf(leaves: Leaf[]): [Hex[], Hex[][]] {
    const data_: Hex[] = [];
    const proofs: Hex[][] = [];
    for (const lf of leaves) {
      const [t, row, chunk] = [Number(lf.tensor), Number(lf.row), Number(lf.chunk)];
      if (t === TOKEN_TENSOR_ID) {
        data_.push(toHex(tokenBytes(data.trace.tokens[row]!)));
        proofs.push((row < P ? promptTree : outputTree).proof(t, row, 0));
      } else {
        data_.push(toHex(chunkBytes(data.trace.hidden[t]!, row, chunk, C)));
        proofs.push(data.traceTree.proof(t, row, chunk));
      }
    }
    return [data_, proofs];
  }
  async function solvent() {
    const balance = await d.token.read.balanceOf([d.av.address]);
    expect(balance).toBe((await d.av.read.feesHeld()) + (await d.av.read.totalCredits()));
  }
  async function open(leaves: Leaf[]) {
    const job = await committedJob();
    await d.av.write.challenge([job, leaves], { account: d.challenger.account });
    const id = (await d.av.read.challengeIdOf([job, d.challenger.account.address, leaves])) as Hex;
    return { job, id };
  }

  it("an answered challenge pays the prover the leaf fees and unfreezes the job", async () => {
    const leaves = [hidden(0, 0, 0), hidden(data.arch.layers, N - 2, 1), tok(0), tok(N - 1)];
    const { job, id } = await open(leaves);
    expect((await d.escrow.read.getJob([job])).openDisputes).toBe(1);
    await solvent();
    const [bytes, proofs] = answerOf(leaves);
    await d.av.write.answer([id, leaves, bytes, proofs], { account: d.prover.account });
    expect((await d.av.read.getChallenge([id])).status).toBe(2);
    expect(await d.av.read.credits([d.prover.account.address])).toBe(4n * FEE);
    expect((await d.escrow.read.getJob([job])).openDisputes).toBe(0);
    expect(await d.escrow.read.faultResolutions()).toBe(0n);
    const logs = await d.publicClient.getContractEvents({ address: d.av.address, abi: d.av.abi, eventName: "AvailabilityAnswered" });
    expect(logs.at(-1)!.args.data).toEqual(bytes);
    await solvent();
  });

  it("trace-withheld-all: an unanswered challenge slashes the job from the second after the deadline", async () => {
    const leaves = [hidden(1, 2, 0)];
    const { job, id } = await open(leaves);
    const { deadline } = await d.av.read.getChallenge([id]);
    await d.networkHelpers.time.setNextBlockTimestamp(deadline);
    await expect(d.av.write.claimUnanswered([id])).rejects.toThrow(/DeadlineNotPassed/);
    await d.networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
    await d.av.write.claimUnanswered([id]);
    expect((await d.escrow.read.getJob([job])).status).toBe(5); // Slashed
    expect((await d.escrow.read.lastChallenger()).toLowerCase()).toBe(d.challenger.account.address.toLowerCase());
    expect(await d.av.read.credits([d.challenger.account.address])).toBe(FEE);
    // Too late to answer now.
    const [bytes, proofs] = answerOf(leaves);
    await expect(d.av.write.answer([id, leaves, bytes, proofs], { account: d.prover.account })).rejects.toThrow(/WrongStatus/);
    await solvent();
  });

  it("an answer at the deadline second is in time; one after it is refused", async () => {
    const leaves = [hidden(2, 1, 1)];
    const { id } = await open(leaves);
    const { deadline } = await d.av.read.getChallenge([id]);
    const [bytes, proofs] = answerOf(leaves);
    await d.networkHelpers.time.setNextBlockTimestamp(deadline);
    await d.av.write.answer([id, leaves, bytes, proofs], { account: d.prover.account });
    const late = await open([hidden(2, 1, 0)]);
    const l2 = (await d.av.read.getChallenge([late.id])).deadline;
    await d.networkHelpers.time.setNextBlockTimestamp(l2 + 1n);
    const [b2, p2] = answerOf([hidden(2, 1, 0)]);
    await expect(d.av.write.answer([late.id, [hidden(2, 1, 0)], b2, p2], { account: d.prover.account })).rejects.toThrow(/DeadlinePassed/);
  });

  it("only leaves an honest trace holds can be demanded; at most 16 per challenge; not by the prover", async () => {
    const job = await committedJob();
    const nd = Math.ceil(data.arch.hidden / C);
    for (const bad of [hidden(data.arch.layers + 1, 0, 0), hidden(0, N - 1, 0), hidden(0, 0, nd), tok(N), { ...tok(0), chunk: 1n }]) {
      await expect(d.av.write.challenge([job, [bad]], { account: d.challenger.account })).rejects.toThrow(/NotATraceLeaf/);
    }
    const many = Array.from({ length: 17 }, (_, i) => hidden(0, i % (N - 1), 0));
    await expect(d.av.write.challenge([job, many], { account: d.challenger.account })).rejects.toThrow(/LeafCount/);
    await expect(d.av.write.challenge([job, [hidden(0, 0, 0)]], { account: d.prover.account })).rejects.toThrow(/ProverCannotChallenge/);
  });

  it("a wrong answer (other leaves, a forged chunk, a token against the wrong root) is refused", async () => {
    const leaves = [tok(1), hidden(1, 0, 0)];
    const { id } = await open(leaves);
    const [bytes, proofs] = answerOf(leaves);
    await expect(d.av.write.answer([id, [leaves[1]!, leaves[0]!], [bytes[1]!, bytes[0]!], [proofs[1]!, proofs[0]!]], { account: d.prover.account })).rejects.toThrow(/WrongLeaves/);
    const forged = [bytes[0]!, toHex(new Uint8Array(chunkBytes(data.trace.hidden[1]!, 0, 0, C)).map((b, i) => (i === 0 ? b ^ 1 : b)))];
    await expect(d.av.write.answer([id, leaves, forged, proofs], { account: d.prover.account })).rejects.toThrow();
    // A prompt token proven against the trace root's own token leaf is not the client's prompt.
    const traceProof = [data.traceTree.proof(TOKEN_TENSOR_ID, 1, 0), proofs[1]!];
    await expect(d.av.write.answer([id, leaves, bytes, traceProof], { account: d.prover.account })).rejects.toThrow();
    await expect(d.av.write.answer([id, leaves, bytes, proofs], { account: d.challenger.account })).rejects.toThrow(/NotProver/);
    await d.av.write.answer([id, leaves, bytes, proofs], { account: d.prover.account });
  });

  it("cancelAfterSlash returns the fees once another dispute slashed the job", async () => {
    const { job, id } = await open([hidden(0, 1, 0)]);
    await expect(d.av.write.cancelAfterSlash([id])).rejects.toThrow(/JobNotSlashed/);
    const second = [hidden(0, 2, 0)];
    await d.av.write.challenge([job, second], { account: d.challenger.account });
    const id2 = (await d.av.read.challengeIdOf([job, d.challenger.account.address, second])) as Hex;
    await d.networkHelpers.time.increase(WINDOW + 1n);
    await d.av.write.claimUnanswered([id2]);
    const before = await d.av.read.credits([d.challenger.account.address]);
    await d.av.write.cancelAfterSlash([id]);
    expect(await d.av.read.credits([d.challenger.account.address])).toBe(before + FEE);
    expect((await d.escrow.read.getJob([job])).openDisputes).toBe(0);
    await d.av.write.withdraw({ account: d.challenger.account });
    await solvent();
  });
});
