/**
 * Rows of the adversary suite (`npm run bench:adversary`, issue #8): one per attack, played
 * against the real contracts and the real agent. An attack row passes when the cheater did not
 * win and no honest party lost.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export type AttackRow = {
  /** The attack's name (stable: rows are never deleted, PROTOCOL §7.6). */
  attack: string;
  /** The cheater got paid, kept a bond it should have lost, or left a wrong result unprovable. */
  cheaterWon: boolean;
  /** An honest prover, verifier or client lost funds or a dispute. */
  honestLost: boolean;
  /** Gas of every transaction the attack and its defence sent. */
  gas: bigint;
  /** Transactions sent by both sides. */
  txs: number;
  /** Largest single transaction. */
  maxTxGas: bigint;
  /** How it ended, in words (the rule that caught it, or why nothing was to be caught). */
  outcome: string;
};

/** Accumulates gas and transaction counts for one attack. */
export class Ledger {
  gas = 0n;
  txs = 0;
  maxTxGas = 0n;
  add(gasUsed: bigint): void {
    this.gas += gasUsed;
    this.txs += 1;
    if (gasUsed > this.maxTxGas) this.maxTxGas = gasUsed;
  }
  row(attack: string, r: { cheaterWon: boolean; honestLost: boolean; outcome: string }): AttackRow {
    return { attack, ...r, gas: this.gas, txs: this.txs, maxTxGas: this.maxTxGas };
  }
}

export function printRows(rows: AttackRow[]): void {
  console.table(
    rows.map((r) => ({
      attack: r.attack,
      cheaterWon: r.cheaterWon,
      honestLost: r.honestLost,
      txs: r.txs,
      gas: r.gas.toLocaleString("en-US"),
      "max tx gas": r.maxTxGas.toLocaleString("en-US"),
      outcome: r.outcome,
    })),
  );
}

export function writeRows(rows: AttackRow[], file = path.join("bench", "results", "adversary.json")): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const json = rows.map((r) => ({ ...r, gas: Number(r.gas), maxTxGas: Number(r.maxTxGas) }));
  writeFileSync(file, `${JSON.stringify({ generatedAt: new Date().toISOString(), rows: json }, null, 2)}\n`);
}

/** Rows that break the suite's promise. */
export const failures = (rows: AttackRow[]): AttackRow[] => rows.filter((r) => r.cheaterWon || r.honestLost);
