/**
 * The published-prompt table (prover-node/state/published-prompts.ts) keeps each publication's
 * decline deadline, which a busy node weighs before declining (PROTOCOL §5.6); a database
 * written by a node that did not keep it opens, its rows with no deadline (declined at once
 * when refused for room, as that node did), and new rows get one.
 */
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../prover-node/errors.js";
import { declineMarginSeconds, refusedForRoom, waitForRoom } from "../../prover-node/serve/decline-policy.js";
import { PublishedPrompts } from "../../prover-node/state/published-prompts.js";

const busy = new ApiError(503, "server_busy", "every queue place is taken", { retryAfterSeconds: 1 });

describe("published prompts table", () => {
  it("opens a table written without decline deadlines; its rows have none and are not waited on", async () => {
    const db = new DatabaseSync(":memory:");
    db.exec("CREATE TABLE published_prompts (job_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, handled INTEGER NOT NULL DEFAULT 0)");
    db.prepare("INSERT INTO published_prompts (job_id, prompt) VALUES (?, ?)").run("7", "0x0000010000000041");
    const published = new PublishedPrompts(db);
    expect(published.pending()).toEqual([{ jobId: 7n, promptTokens: [256, 65], declineDeadline: undefined }]);
    expect(await waitForRoom(busy, undefined, async () => 0n)).toBe(false);
    db.prepare("INSERT INTO published_prompts (job_id, prompt, decline_deadline) VALUES (?, ?, ?)").run("8", "0x00000041", 1_000);
    expect(published.pending()[1]).toEqual({ jobId: 8n, promptTokens: [65], declineDeadline: 1000n });
    new PublishedPrompts(db); // a second open adds nothing twice
  });

  it("waits only while busy for now, with more than the margin of the window left by chain and wall clock", async () => {
    const margin = declineMarginSeconds(15_000);
    expect(margin).toBe(60n); // 30 s to decline, two 15 s loop intervals
    const far = BigInt(Math.floor(Date.now() / 1000)) + 10_000n; // the wall clock is long before it
    const at = (t: bigint) => async () => t;
    expect(await waitForRoom(busy, far, at(far - margin - 1n))).toBe(true);
    expect(await waitForRoom(busy, far, at(far - margin))).toBe(false);
    // Lasting refusals are declined at once: a job that never fits the KV budget (no Retry-After),
    // a trace store full of stored traces, a deadline too close.
    const neverFits = new ApiError(503, "server_busy", "needs more KV cache than the budget");
    const storeFull = new ApiError(507, "trace_store_full", "no room");
    for (const err of [neverFits, storeFull, new ApiError(409, "deadline_too_close", "late")]) expect(await waitForRoom(err, far, at(0n))).toBe(false);
    expect([neverFits, storeFull, busy].map(refusedForRoom)).toEqual([true, true, true]);
    // A chain head far in the past (a chain that mines on demand) does not stretch the window.
    const soon = BigInt(Math.floor(Date.now() / 1000)) + margin - 5n;
    expect(await waitForRoom(busy, soon, at(0n))).toBe(false);
    // A clock that cannot be read declines rather than risk the window.
    expect(await waitForRoom(busy, far, () => Promise.reject(new Error("rpc down")))).toBe(false);
    let reads = 0;
    await waitForRoom(new ApiError(400, "prompt_mismatch", "x"), far, async () => (reads++, 0n));
    expect(reads).toBe(0); // the clock is read only for a refusal that may lift
  });
});
