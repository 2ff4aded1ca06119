/**
 * Attacks on the prover's liveness rather than on a rule: the contracts are right, and the
 * honest prover still loses if its answer never lands before its clock runs out.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTestClient, http, parseTransaction, type Hex } from "viem";
import { nextMove, Phase } from "../../protocol/dispute/agent.js";
import { readChainDispute } from "../../protocol/game/chain-dispute.js";
import { moveCall, openDispute } from "../../protocol/game/send-move.js";
import { ProverDb } from "../../prover-node/state/db.js";
import { PersistedTxSender } from "../../prover-node/state/tx-sender.js";
import { afterAuditPriority, blockNumber, collectGas, gameCredits, honestData, openAndCommit, promptOf, stakeOf, type World } from "./env.js";
import { playDispute } from "./play.js";
import { Ledger, type AttackRow } from "./report.js";

/**
 * priced-out-prover-move: a griefer disputes an honest prover's job, and the base fee then rises
 * tenfold (a fee spike, or blocks the griefer fills) so the prover's step root sits unmined
 * while its clock runs. Before the prover node settled stuck transactions (PROTOCOL §5.7
 * "Transactions") its send waited forever and no later pass ran: the clock ran out and the
 * honest prover lost. Played with the node's own sender (its database, its resume() as a loop
 * pass runs it): the first bytes stay out of a block priced above their cap; the next pass
 * replaces them, the step root lands, and the dispute is played to its end.
 */
export async function pricedOutProverMove(w: World): Promise<AttackRow> {
  const ledger = new Ledger();
  const from = await blockNumber(w);
  const stake = await stakeOf(w, "honestProver");
  const prompt = promptOf(31, 2);
  const data = honestData(w, prompt, 6);
  const jobId = await openAndCommit(w, { prover: "honestProver", prompt, data });
  const step = { position: 6, layer: 1 };
  await afterAuditPriority(w, jobId, "verifier");
  const bonds = await gameCredits(w, "verifier");
  const disputeId = await openDispute(w.as.verifier, { jobId, ...step });
  const prover = w.as.honestProver;
  const move = nextMove("prover", await readChainDispute(prover, disputeId), { data });
  if (!move || move.kind !== "postStepRoot") throw new Error(`priced-out-prover-move: the prover's first move is ${move?.kind}, not postStepRoot`);
  const dir = mkdtempSync(path.join(tmpdir(), "stepproof-liveness-"));
  const db = new ProverDb(dir);
  const said: string[] = [];
  const sender = new PersistedTxSender(db, prover, (m) => said.push(m), { receiptTimeoutMs: 1_000, resumeWaitMs: 5_000 });
  const test = createTestClient({ mode: "hardhat", transport: http(w.chain.url) });
  const rows = () => db.txsFor("dispute-move", disputeId);
  let raised = "";
  try {
    await test.setAutomine(false); // as on a real chain: sent now, mined in a later block
    const { hash, receipt } = await sender.submit({ kind: "dispute-move", key: disputeId, ...moveCall(prover, move) });
    const cap = parseTransaction(rows()[0]!.raw).maxFeePerGas!;
    await test.setNextBlockBaseFeePerGas({ baseFeePerGas: cap * 10n });
    await test.mine({ blocks: 1 });
    if (await prover.publicClient.getTransactionReceipt({ hash }).catch(() => undefined)) throw new Error("priced-out-prover-move: the first step root was mined; the attack did not take place");
    await receipt.catch(() => {}); // the send's wait runs out (TransactionNotMinedError): resume() takes it over
    // The node's next pass: resume() replaces the step root; the next block takes it.
    const pass = sender.resume();
    for (let i = 0; rows().length < 2 && i < 200; i++) await new Promise((r) => setTimeout(r, 25));
    if (rows().length < 2) {
      // Same bytes only (as before PROTOCOL §5.7's replacement): they can never be included.
      await pass;
      return ledger.row("priced-out-prover-move", { cheaterWon: true, honestLost: true, outcome: `the step root stayed priced out, nothing replaced it before the prover's clock ran on (${said.join("; ")})` });
    }
    await test.mine({ blocks: 1 });
    await pass;
    raised = `fee cap ${cap} → ${parseTransaction(rows()[1]!.raw).maxFeePerGas}`;
  } finally {
    await test.setAutomine(true);
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const r = await playDispute(w, { jobId, ...step, opened: disputeId as Hex, prover: { role: "honestProver", disk: () => ({ data }) }, challenger: { role: "verifier", data } });
  await collectGas(w, ledger, from);
  const won = r.phase === Phase.ProverWon;
  return ledger.row("priced-out-prover-move", {
    cheaterWon: !won || (await gameCredits(w, "verifier")) > bonds,
    honestLost: !won || (await stakeOf(w, "honestProver")) < stake,
    outcome: won
      ? `the step root priced out by a tenfold base fee was replaced by the node's sender (${raised}) and landed; the prover won (${r.moves.join(" ")}), the griefer's bond is lost`
      : `phase ${r.phase}: ${r.moves.join(" ")}`,
  });
}
