import { mkdirSync } from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

/**
 * Open a node's SQLite database with the settings every node wants: WAL so a reader never
 * blocks the writer, full synchronous commits so an acknowledged write survives SIGKILL, and
 * a busy timeout instead of immediate SQLITE_BUSY.
 */
export function openNodeDatabase(file: string, schema: string): DatabaseSync {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;");
  db.exec(schema);
  return db;
}

/** Run `fn` in one transaction: all of its writes land, or none. */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
