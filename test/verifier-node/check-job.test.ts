/**
 * The verifier's job check re-derives the output tokens of greedy and sampled jobs (PROTOCOL
 * §4.4) on every checked job: an honest Gumbel-max job passes, a substituted token is reported
 * as a head-step (layer L + 1) dispute candidate.
 */
import { describe, expect, it } from "vitest";
import { generate } from "../../runtime/generate.js";
import { encodeSamplingParams } from "../../runtime/sampling.js";
import { ModelSessions } from "../../runtime/session.js";
import { boundariesFor, checkJobLayers, DEFAULT_LOGIT_TOLERANCE } from "../../verifier-node/check-job.js";
import { modelDir, tempDir } from "../runtime/helpers.js";
import { calibrate } from "../../runtime/calibration.js";
import { cpSync } from "node:fs";
import { join } from "node:path";

describe("verifier job check: sampled tokens", () => {
  it("passes an honest τ = 0.8 job and flags a substituted token at the head step", async () => {
    // Layer re-execution needs calibrated thresholds: calibrate a copy of the package.
    const dir = join(tempDir(), "tiny");
    cpSync(await modelDir(), dir, { recursive: true });
    await calibrate({ modelDir: dir, promptTokens: [256, ...Buffer.from("calibration")], maxNewTokens: 8, write: true });
    const prompt = [256, ...Buffer.from("check me")];
    const samplingParams = encodeSamplingParams({ temperature: 0.8, seed: 5n });
    const job = await generate({ modelDir: dir, promptTokens: prompt, maxNewTokens: 8, samplingParams, trace: true, stopAtEos: false });
    const sessions = await ModelSessions.load(dir, { intraOpThreads: 2, compute: "f16" });
    const L = sessions.manifest.architecture.layers;
    const head = { promptLength: prompt.length, samplingParams, logitTolerance: DEFAULT_LOGIT_TOLERANCE };
    const honest = await checkJobLayers({ sessions, trace: job.trace!, layers: [L], head });
    expect(honest.failure).toBeUndefined();
    expect(honest.sampling).toHaveLength(8);
    // The head check runs on every checked job, whichever blocks are sampled (the node always
    // fetches h[·][L] for it: boundariesFor(layers, L)).
    expect((await checkJobLayers({ sessions, trace: job.trace!, layers: [1], head })).sampling).toHaveLength(8);
    expect(boundariesFor([1], L)).toEqual([0, 1, L]);

    const tokens = [...job.tokens];
    const p = prompt.length + 3;
    tokens[p] = (tokens[p]! + 17) % 256;
    const cheat = await checkJobLayers({ sessions, trace: { tokens, row: (t, l) => job.trace!.row(t, l) }, layers: [L], head });
    expect(cheat.failure).toMatchObject({ position: p - 1, layer: L + 1, token: { claimed: tokens[p], derived: job.tokens[p] } });
    await sessions.release();
  });
});
