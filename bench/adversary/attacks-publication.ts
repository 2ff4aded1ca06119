/**
 * Attacks on voucher publication (PROTOCOL §5.8 "Publication"): a prover that ignores a voucher
 * its client published, or batches around it and answers with another leaf; and a client that
 * publishes and then tries to take its deposit back so an honest prover cannot be paid for the
 * job it is forced to serve. Played against the deployed contracts through the chain actions
 * nodes and clients use.
 */
import { parseEther, type Address } from "viem";
import { nodeRegistryAbi } from "../../protocol/chain/generated/abi.js";
import { TransactionError } from "../../protocol/chain/actions/send.js";
import { answerPublication, claimMissedPublication, PublicationStatus, publishVoucher, readPublication } from "../../protocol/chain/actions/voucher-publication.js";
import { commitBatch, depositForProver, readVoucherAccount, requestWithdrawal, reserveForBatches, withdrawDeposit } from "../../protocol/chain/actions/vouchers.js";
import { tokenRoot } from "../../protocol/commitments/token-root.js";
import { buildBatch, signVoucher, voucherDigest, type ServedJob, type Voucher } from "../../protocol/vouchers/index.js";
import { blockNumber, collectGas, honestData, paroleCheater, promptOf, stakeOf, type World } from "./env.js";
import { Ledger, type AttackRow } from "./report.js";

const P = 3;
const NEW = 5;
const PRICE = parseEther("0.001");
let slots = 1_000n; // apart from attacks-batches' slots

const addr = (w: World, role: "cheater" | "client"): Address => w.as[role].walletClient!.account.address;

async function ready(w: World): Promise<void> {
  await paroleCheater(w);
  await reserveForBatches(w.as.cheater, { amount: parseEther("2") });
  const acc = await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") });
  if (acc.balance < parseEther("1")) await depositForProver(w.as.client, { prover: addr(w, "cheater"), amount: parseEther("1") });
}

/** A voucher of the client for the cheater at `nonce` (default: the account's next), with its prompt. */
async function signedVoucher(w: World, seed: number, nonce?: bigint): Promise<{ voucher: Voucher; signature: `0x${string}`; prompt: number[] }> {
  const prompt = promptOf(seed, P);
  const next = nonce ?? (await readVoucherAccount(w.as.governance, { client: addr(w, "client"), prover: addr(w, "cheater") })).nextNonce;
  const voucher: Voucher = {
    client: addr(w, "client"), prover: addr(w, "cheater"), modelId: w.modelId, promptRoot: tokenRoot(prompt, 0), samplingParams: 0n,
    inputTokens: P, maxOutputTokens: NEW, inputPrice: PRICE, outputPrice: PRICE, nonce: next, expiry: (await w.now()) + 7200n,
  };
  const chainId = w.as.governance.deployment.chainId;
  const escrow = w.as.governance.deployment.contracts.voucherEscrow!;
  return { voucher, signature: await signVoucher(w.as.client.walletClient!, voucher, chainId, escrow), prompt };
}

function servedOf(w: World, v: { voucher: Voucher; signature: `0x${string}`; prompt: number[] }): ServedJob {
  const data = honestData(w, v.prompt, NEW);
  const output = data.trace.tokens.slice(P);
  const chainId = w.as.governance.deployment.chainId;
  return { voucher: v.voucher, signature: v.signature, voucherHash: voucherDigest(v.voucher, chainId, w.as.governance.deployment.contracts.voucherEscrow!), traceRoot: data.traceTree.root, outputRoot: tokenRoot(output, P), outputTokens: output.length };
}

const registryCredit = (w: World) =>
  w.as.governance.publicClient.readContract({ address: w.as.governance.deployment.contracts.nodeRegistry, abi: nodeRegistryAbi, functionName: "credits", args: [addr(w, "client")] });

/** Wait out the deadline and one answer window, then claim the penalty as the client. */
async function claimAfterDeadline(w: World, voucherHash: `0x${string}`, deadline: bigint): Promise<bigint> {
  const now = await w.now();
  const at = deadline + 600n + 1n;
  if (now < at) await w.warp(at - now);
  const before = await registryCredit(w);
  await claimMissedPublication(w.as.client, { voucherHash });
  return (await registryCredit(w)) - before;
}

/**
 * The prover ignores a published voucher (or batches the client's later nonces around it and
 * answers with one of those leaves): either way the client takes the held penalty.
 */
async function ignoredRow(w: World, attack: string, skipAround: boolean): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const v = await signedVoucher(w, 61);
  const published = await publishVoucher(w.as.client, { voucher: v.voucher, signature: v.signature, promptTokens: v.prompt });
  let answeredAround = false;
  if (skipAround) {
    // Batch the next nonce instead, then try to close the publication with that leaf.
    const later = servedOf(w, await signedVoucher(w, 62, v.voucher.nonce + 1n));
    const batch = buildBatch([later]);
    const { header } = await commitBatch(w.as.cheater, { slot: ++slots, batch });
    answeredAround = await answerPublication(w.as.cheater, { voucherHash: published.voucherHash, header, debits: batch.debits, leaf: batch.leaves[0]!, index: 0, proof: batch.tree.proof(0) }).then(
      () => true,
      (e: unknown) => !(e instanceof TransactionError && e.revertName === "WrongLeaf"),
    );
  }
  const stakeBefore = await stakeOf(w, "cheater");
  const paid = await claimAfterDeadline(w, published.voucherHash, published.publication.deadline);
  const stakeLost = stakeBefore - (await stakeOf(w, "cheater"));
  await collectGas(w, ledger, from);
  const status = (await readPublication(w.as.governance, { voucherHash: published.voucherHash })).status;
  return ledger.row(attack, {
    cheaterWon: answeredAround || status !== PublicationStatus.Missed || stakeLost < published.publication.penalty,
    honestLost: paid !== published.publication.penalty || published.publication.penalty === 0n,
    outcome: `${skipAround ? "answering with another nonce's leaf refused (WrongLeaf); " : ""}the client took the held penalty ${paid} from the prover's reserve after the deadline`,
  });
}

export const publicationIgnored = (w: World) => ignoredRow(w, "publication-ignored", false);
export const publicationSkipNonce = (w: World) => ignoredRow(w, "publication-skip-nonce", true);

/**
 * The client as the attacker: it publishes, asks for its deposit back and tries to withdraw
 * before the prover's batch, so the debit fails and the honest prover pays the penalty. The
 * withdrawal waits out the notice (longer than the deadline); the prover batches and answers.
 */
export async function publicationThenWithdraw(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  await ready(w);
  const from = await blockNumber(w);
  const v = await signedVoucher(w, 63);
  const published = await publishVoucher(w.as.client, { voucher: v.voucher, signature: v.signature, promptTokens: v.prompt });
  await requestWithdrawal(w.as.client, { prover: addr(w, "cheater") });
  await w.warp(300n);
  const withdrew = await withdrawDeposit(w.as.client, { prover: addr(w, "cheater"), amount: parseEther("1") }).then(
    () => true,
    (e: unknown) => !(e instanceof TransactionError && e.revertName === "WithdrawalNotReady"),
  );
  const stakeBefore = await stakeOf(w, "cheater");
  const job = servedOf(w, v);
  const batch = buildBatch([job]);
  const committed = await commitBatch(w.as.cheater, { slot: ++slots, batch }).then((r) => r.header, () => undefined);
  if (committed) await answerPublication(w.as.cheater, { voucherHash: published.voucherHash, header: committed, debits: batch.debits, leaf: batch.leaves[0]!, index: 0, proof: batch.tree.proof(0) });
  const status = (await readPublication(w.as.governance, { voucherHash: published.voucherHash })).status;
  await collectGas(w, ledger, from);
  return ledger.row("publication-then-withdraw", {
    cheaterWon: withdrew || !committed,
    honestLost: status !== PublicationStatus.Answered || (await stakeOf(w, "cheater")) < stakeBefore,
    outcome: "the withdrawal waits out the notice (past the deadline); the prover's batch charged the voucher and answered the publication",
  });
}
