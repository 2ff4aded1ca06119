import { network } from "hardhat";
import { bytesToHex, toBytes } from "viem";
import { describe, expect, it } from "vitest";
import { TRACE_DOMAIN, verifyProof } from "../../protocol/commitments/index.js";
import { generate } from "../../runtime/generate.js";
import { PRESETS } from "../../runtime/model/synthetic.js";
import { reexecuteLayer } from "../../runtime/reexec.js";
import { ModelSessions } from "../../runtime/session.js";
import { modelDir } from "./helpers.js";

// The "small" preset (d=512, 8 layers, vocab 32k) end to end: generate the package,
// generate with a trace, prove a chunk in the EVM, replay a layer on another setup.
describe("small model end to end", () => {
  it("generates, commits, proves in the EVM and replays a layer", async () => {
    const dir = await modelDir("small");
    const r = await generate({ modelDir: dir, promptTokens: [256, ...Buffer.from("small model")], maxNewTokens: 6, samplingParams: 0n, trace: true, stopAtEos: false });
    const trace = r.trace!;
    expect(trace.layout.chunksPerRow).toBe(PRESETS.small.arch.hidden / PRESETS.small.chunkSize);
    const again = await generate({ modelDir: dir, promptTokens: [256, ...Buffer.from("small model")], maxNewTokens: 6, samplingParams: 0n, trace: true, stopAtEos: false });
    expect(again.trace!.root).toBe(trace.root);

    const p = trace.hiddenProof(10, 8, 1);
    expect(verifyProof(p.leaf, p.proof, trace.root)).toBe(true);
    const { viem } = await network.create();
    const harness = (await viem.deployContract("TraceProofHarness")) as unknown as { read: { verifyChunk: (a: readonly unknown[]) => Promise<unknown> } };
    expect(await harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 8n, 10n, 1n, p.chunk, p.proof])).toBe(true);
    const bad = toBytes(p.chunk);
    bad[100]! ^= 0x40;
    await expect(harness.read.verifyChunk([trace.root, TRACE_DOMAIN, 8n, 10n, 1n, bytesToHex(bad), p.proof])).rejects.toThrow(/InvalidChunkProof/);

    // Replay block 5 with fp16 matmuls and 2 threads against fixed, loose thresholds (well above
    // what `npm run calibrate` measures for this model) so the test does not need a calibration.
    const s = await ModelSessions.load(dir, { compute: "f16", intraOpThreads: 2 }, [5]);
    const replay = await reexecuteLayer({ sessions: s, trace, layer: 5, thresholds: { maxAbs: 0.05, relL2: 0.01 } });
    await s.release();
    expect(replay.pass, `maxAbs ${replay.maxAbs} relL2 ${replay.maxRelL2}`).toBe(true);
    expect(replay.maxAbs).toBeGreaterThan(0); // a different setup really computed it
  });
});
