import { encodeAbiParameters, keccak256, toHex, concatHex, type Address, type Hex } from "viem";
import type { Voucher } from "./voucher.js";

/** One job of a batch (PROTOCOL §5.8): the voucher's terms as served and the result. */
export type JobLeaf = {
  voucherHash: Hex;
  client: Address;
  nonce: bigint;
  modelId: Hex;
  promptRoot: Hex;
  samplingParams: bigint;
  traceRoot: Hex;
  outputRoot: Hex;
  inputTokens: number;
  outputTokens: number;
  inputPrice: bigint;
  outputPrice: bigint;
  /** This client's charges in the batch up to and including this leaf. */
  cumulative: bigint;
};

/** One client's share of a batch: its `count` consecutive leaves. */
export type Debit = { client: Address; firstNonce: bigint; lastNonce: bigint; count: number; amount: bigint };

/** The stored batch header (only its hash is on-chain; BatchCommitted emits it). */
export type BatchHeader = {
  prover: Address;
  slot: bigint;
  jobsRoot: Hex;
  leafCount: number;
  debitsHash: Hex;
  total: bigint;
  collateral: bigint;
  committedAt: bigint;
  challengeDeadline: bigint;
  feeBps: number;
  auditFeeBps: number;
};

/** What disputes changed on a live batch (VoucherEscrow.batchState). */
export type BatchState = { openChallenges: number; holdUntil: bigint; adoptedTotal: bigint };

export const JOB_DOMAIN = keccak256(toHex("stepproof.batch-job.v1"));

const LEAF_TUPLE = {
  type: "tuple",
  components: [
    { name: "voucherHash", type: "bytes32" },
    { name: "client", type: "address" },
    { name: "nonce", type: "uint64" },
    { name: "modelId", type: "bytes32" },
    { name: "promptRoot", type: "bytes32" },
    { name: "samplingParams", type: "uint256" },
    { name: "traceRoot", type: "bytes32" },
    { name: "outputRoot", type: "bytes32" },
    { name: "inputTokens", type: "uint32" },
    { name: "outputTokens", type: "uint32" },
    { name: "inputPrice", type: "uint128" },
    { name: "outputPrice", type: "uint128" },
    { name: "cumulative", type: "uint128" },
  ],
} as const;

const DEBITS_ARRAY = {
  type: "tuple[]",
  components: [
    { name: "client", type: "address" },
    { name: "firstNonce", type: "uint64" },
    { name: "lastNonce", type: "uint64" },
    { name: "count", type: "uint32" },
    { name: "amount", type: "uint128" },
  ],
} as const;

const HEADER_TUPLE = {
  type: "tuple",
  components: [
    { name: "prover", type: "address" },
    { name: "slot", type: "uint64" },
    { name: "jobsRoot", type: "bytes32" },
    { name: "leafCount", type: "uint32" },
    { name: "debitsHash", type: "bytes32" },
    { name: "total", type: "uint128" },
    { name: "collateral", type: "uint128" },
    { name: "committedAt", type: "uint64" },
    { name: "challengeDeadline", type: "uint64" },
    { name: "feeBps", type: "uint16" },
    { name: "auditFeeBps", type: "uint16" },
  ],
} as const;

/** keccak256(abi.encode(header)): the word VoucherEscrow stores under batchHash(batchId). */
export function batchHeaderHash(h: BatchHeader): Hex {
  return keccak256(encodeAbiParameters([HEADER_TUPLE], [h]));
}

/** keccak256(keccak256(abi.encode(JOB_DOMAIN, leaf))). */
export function jobLeafHash(leaf: JobLeaf): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: "bytes32" }, LEAF_TUPLE], [JOB_DOMAIN, leaf])));
}

/** keccak256(abi.encode(debits)): the header's debitsHash. */
export function debitsHash(debits: readonly Debit[]): Hex {
  return keccak256(encodeAbiParameters([DEBITS_ARRAY], [debits]));
}

export const chargeOf = (l: Pick<JobLeaf, "inputTokens" | "outputTokens" | "inputPrice" | "outputPrice">): bigint =>
  BigInt(l.inputTokens) * l.inputPrice + BigInt(l.outputTokens) * l.outputPrice;

const ZERO = `0x${"00".repeat(32)}` as Hex;

/** The positional batch tree (PROTOCOL §5.8): depth ⌈log2 n⌉, zero-padded, node = keccak(left ‖ right). */
export class BatchTree {
  readonly levels: Hex[][];

  constructor(readonly leaves: readonly Hex[]) {
    if (leaves.length === 0) throw new Error("BatchTree: a batch has at least one leaf");
    let width = 1;
    while (width < leaves.length) width *= 2;
    let level = [...leaves, ...Array<Hex>(width - leaves.length).fill(ZERO)];
    this.levels = [level];
    while (level.length > 1) {
      const next: Hex[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(keccak256(concatHex([level[i]!, level[i + 1]!])));
      level = next;
      this.levels.push(level);
    }
  }

  get root(): Hex {
    return this.levels[this.levels.length - 1]![0]!;
  }

  /** Siblings bottom-up; exactly ⌈log2 n⌉ of them. */
  proof(index: number): Hex[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.leaves.length) throw new RangeError(`BatchTree: no leaf ${index} in ${this.leaves.length}`);
    const out: Hex[] = [];
    for (let d = 0; d < this.levels.length - 1; d++) {
      out.push(this.levels[d]![index ^ 1]!);
      index >>= 1;
    }
    return out;
  }
}

export function verifyJobLeaf(root: Hex, leafCount: number, leaf: JobLeaf, index: number, proof: readonly Hex[]): boolean {
  let depth = 0;
  while (1 << depth < leafCount) depth++;
  if (index < 0 || index >= leafCount || proof.length !== depth) return false;
  let node = jobLeafHash(leaf);
  let at = index;
  for (const sibling of proof) {
    node = keccak256(at % 2 === 0 ? concatHex([node, sibling]) : concatHex([sibling, node]));
    at >>= 1;
  }
  return node === root;
}

/** A served job, as the prover has it after generation. */
export type ServedJob = {
  voucher: Voucher;
  voucherHash: Hex;
  signature: Hex;
  traceRoot: Hex;
  outputRoot: Hex;
  outputTokens: number;
};

export type Batch = { leaves: JobLeaf[]; debits: Debit[]; tree: BatchTree; jobs: ServedJob[]; total: bigint };

/**
 * Lay out served jobs as a batch the way §5.8 requires: grouped by client (first appearance
 * order), each client's jobs in increasing nonce order with running totals, one debit per
 * client. Rejects two jobs of one client with the same nonce (a batch must never carry both).
 */
export function buildBatch(jobs: readonly ServedJob[]): Batch {
  if (jobs.length === 0) throw new Error("buildBatch: no jobs");
  const byClient = new Map<Address, ServedJob[]>();
  for (const j of jobs) {
    const key = j.voucher.client.toLowerCase() as Address;
    const list = byClient.get(key) ?? [];
    list.push(j);
    byClient.set(key, list);
  }
  const leaves: JobLeaf[] = [];
  const debits: Debit[] = [];
  const ordered: ServedJob[] = [];
  let total = 0n;
  for (const list of byClient.values()) {
    list.sort((a, b) => (a.voucher.nonce < b.voucher.nonce ? -1 : a.voucher.nonce > b.voucher.nonce ? 1 : 0));
    let cumulative = 0n;
    for (let i = 0; i < list.length; i++) {
      const j = list[i]!;
      if (i > 0 && list[i - 1]!.voucher.nonce === j.voucher.nonce) throw new Error(`buildBatch: nonce ${j.voucher.nonce} of ${j.voucher.client} twice`);
      const v = j.voucher;
      const leaf: JobLeaf = {
        voucherHash: j.voucherHash, client: v.client, nonce: v.nonce, modelId: v.modelId, promptRoot: v.promptRoot,
        samplingParams: v.samplingParams, traceRoot: j.traceRoot, outputRoot: j.outputRoot, inputTokens: v.inputTokens,
        outputTokens: j.outputTokens, inputPrice: v.inputPrice, outputPrice: v.outputPrice, cumulative: 0n,
      };
      cumulative += chargeOf(leaf);
      leaf.cumulative = cumulative;
      leaves.push(leaf);
      ordered.push(j);
    }
    debits.push({ client: list[0]!.voucher.client, firstNonce: list[0]!.voucher.nonce, lastNonce: list[list.length - 1]!.voucher.nonce, count: list.length, amount: cumulative });
    total += cumulative;
  }
  return { leaves, debits, tree: new BatchTree(leaves.map(jobLeafHash)), jobs: ordered, total };
}

/** Which debit a leaf index belongs to. */
export function entryOf(debits: readonly Debit[], index: number): number {
  let start = 0;
  for (let k = 0; k < debits.length; k++) {
    if (index < start + debits[k]!.count) return k;
    start += debits[k]!.count;
  }
  throw new RangeError(`entryOf: leaf ${index} is past the batch`);
}
