/**
 * The published-prompt table (prover-node/state/published-prompts.ts) keeps each publication's
 * decline deadline, which a busy node weighs before declining (PROTOCOL §5.6); a database
 * written by a node that did not keep it opens, its rows with no deadline (declined at once
 * when refused for room, as that node did), and new rows get one.
 */
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { DECLINE_MARGIN_SECONDS, waitForRoom } from "../../prover-node/serve/decline-policy.js";
import { PublishedPrompts } from "../../prover-node/state/published-prompts.js";

describe("published prompts table", () => {
  it("opens a table written without decline deadlines; its rows have none and are not waited on", async () => {
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE published_prompts (job_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, handled INTEGER NOT NULL DEFAULT 0)");
    db.prepare("INSERT INTO published_prompts (job_id, prompt) VALUES (?, ?)").run("7", "0x0000010000000041");
    const published = new PublishedPrompts(db);
    expect(published.pending()).toEqual([{ jobId: 7n, promptTokens: [256, 65], declineDeadline: undefined }]);
    expect(await waitForRoom("server_busy", undefined, async () => 0n)).toBe(false);
    db.prepare("INSERT INTO published_prompts (job_id, prompt, decline_deadline) VALUES (?, ?, ?)").run("8", "0x00000041", 1_000);
    expect(published.pending()[1]).toEqual({ jobId: 8n, promptTokens: [65], declineDeadline: 1000n });
    new PublishedPrompts(db); // a second open adds nothing twice
  });

  it("waits for room only on a room refusal with more than the margin of the window left", async () => {
    const deadline = 1_000n;
    const at = (t: bigint) => async () => t;
    expect(await waitForRoom("server_busy", deadline, at(deadline - DECLINE_MARGIN_SECONDS - 1n))).toBe(true);
    expect(await waitForRoom("trace_store_full", deadline, at(deadline - DECLINE_MARGIN_SECONDS - 1n))).toBe(true);
    expect(await waitForRoom("server_busy", deadline, at(deadline - DECLINE_MARGIN_SECONDS))).toBe(false);
    expect(await waitForRoom("deadline_too_close", deadline, at(0n))).toBe(false);
    let reads = 0;
    await waitForRoom("prompt_mismatch", deadline, async () => (reads++, 0n));
    expect(reads).toBe(0); // the chain's clock is read only for a refusal room may lift
  });
});
