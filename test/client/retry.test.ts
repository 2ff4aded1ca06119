import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { retryWindowEnd, serveFailureKind } from "../../client/retry.js";

const apiError = (status: number, code: string) => OpenAI.APIError.generate(status, { error: { message: "m", type: "t", code } }, undefined, new Headers({ "retry-after": "2" }));

/** What runJob does with a failed job request after openJob (review M1: never publish on "try again"). */
describe("job request failures after openJob", () => {
  it("retries without publishing on a refusal for now, including a job the prover's RPC has not seen yet", () => {
    expect(serveFailureKind(apiError(503, "server_busy"))).toBe("refusal");
    expect(serveFailureKind(apiError(503, "job_not_visible"))).toBe("refusal");
    expect(serveFailureKind(apiError(429, "rate_limited"))).toBe("refusal");
  });

  it("retries, and publishes only after the window, when the prover cannot be reached or (older provers) says job_not_found", () => {
    expect(serveFailureKind(new OpenAI.APIConnectionError({ message: "Connection error." }))).toBe("unreachable");
    expect(serveFailureKind(new OpenAI.APIConnectionTimeoutError())).toBe("unreachable");
    expect(serveFailureKind(apiError(404, "job_not_found"))).toBe("unreachable");
    // A stream cut by a reset socket surfaces as a plain error with the code in its cause chain.
    expect(serveFailureKind(new TypeError("terminated", { cause: Object.assign(new Error("other side closed"), { code: "ECONNRESET" }) }))).toBe("unreachable");
    expect(serveFailureKind(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe("unreachable");
  });

  it("publishes at once on a final answer", () => {
    expect(serveFailureKind(apiError(409, "deadline_too_close"))).toBeUndefined();
    expect(serveFailureKind(apiError(400, "prompt_mismatch"))).toBeUndefined();
    expect(serveFailureKind(apiError(404, "model_not_found"))).toBeUndefined();
    expect(serveFailureKind(new Error("boom"))).toBeUndefined();
  });

  it("ends the retry window a block interval before the prover's margin, so the last try is not a 409 deadline_too_close", () => {
    // Deadline 600 s ahead, prover margin 60 s, 12 s blocks: retry for 528 s.
    expect(retryWindowEnd({ commitDeadline: 1600n, chainNow: 1000n, nowMs: 5_000, proverMarginSeconds: 60, blockIntervalSeconds: 12 })).toBe(5_000 + 528_000);
    // Already inside the margin: no retries at all.
    expect(retryWindowEnd({ commitDeadline: 1050n, chainNow: 1000n, nowMs: 5_000, proverMarginSeconds: 60, blockIntervalSeconds: 12 })).toBe(5_000);
  });
});
