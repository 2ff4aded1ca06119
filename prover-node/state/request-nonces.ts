import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Address, Hex } from "viem";

/**
 * Nonces of signed requests already served (PROTOCOL §5.7), kept until their signature expires:
 * a replayed request is refused, and the table holds at most what signers sent within the
 * longest validity a prover accepts. A database of its own with `synchronous = NORMAL`: a
 * nonce survives a killed process (WAL), and no trace read waits for an fsync; an operating
 * system crash could forget the last few seconds of nonces, whose signatures expire within
 * minutes anyway.
 */
export class RequestNonces {
  readonly #db: DatabaseSync;
  readonly #insert;
  readonly #prune;
  #inserts = 0;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new DatabaseSync(path.join(dataDir, "request-nonces.sqlite"));
    this.#db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS request_nonce (
        signer TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expiry INTEGER NOT NULL,
        PRIMARY KEY (signer, nonce)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS request_nonce_expiry ON request_nonce (expiry);`);
    this.#insert = this.#db.prepare("INSERT OR IGNORE INTO request_nonce (signer, nonce, expiry) VALUES (?, ?, ?)");
    this.#prune = this.#db.prepare("DELETE FROM request_nonce WHERE expiry < ?");
  }

  /** Record a nonce; false when `signer` used it before (a replay). */
  use(signer: Address, nonce: Hex, expiry: number, nowSeconds: number): boolean {
    // Expired nonces can go: their signatures are refused as expired before the nonce is looked at.
    if (++this.#inserts % 256 === 0) this.#prune.run(nowSeconds);
    return Number(this.#insert.run(signer.toLowerCase(), nonce.toLowerCase(), expiry).changes) === 1;
  }

  close(): void {
    this.#db.close();
  }
}
