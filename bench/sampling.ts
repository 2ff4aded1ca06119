/**
 * npm run bench:sampling -- [--quick]
 *
 * The runtime's seeded Gumbel-max sampler (PROTOCOL §4.4): wall time per sampled token at
 * vocab 259 (the tiny model) and 32,000 (Llama-2 size), with the keccak noise digests it hashes
 * (one per 4 ids). Median of several batches, a warm-up first. Prints a table, writes
 * bench/results/sampling.json.
 */
import { writeFileSync } from "node:fs";
import { gaussian, rng } from "../protocol/dispute/synthetic.js";
import { decodeSamplingParams, encodeSamplingParams, sampleToken } from "../runtime/sampling.js";
import { QUICK, resultPath } from "./quick.js";

const params = decodeSamplingParams(encodeSamplingParams({ temperature: 0.8, seed: 1n }));
const g = gaussian(rng(0x5a3));
const rows: { vocab: number; keccaks: number; usPerTokenMedian: number; usPerTokenMin: number; batches: number; tokensPerBatch: number }[] = [];
for (const vocab of [259, 32_000]) {
  const logits = Float32Array.from({ length: vocab }, () => g() * 3);
  const perBatch = QUICK ? 4 : vocab < 1000 ? 2000 : 40;
  const batches = QUICK ? 2 : 9;
  let position = 0;
  for (let i = 0; i < perBatch; i++) sampleToken(logits, params, position++); // warm-up
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < perBatch; i++) sampleToken(logits, params, position++);
    times.push(((performance.now() - t0) * 1000) / perBatch);
  }
  times.sort((a, b) => a - b);
  rows.push({ vocab, keccaks: Math.ceil(vocab / 4), usPerTokenMedian: times[Math.floor(times.length / 2)]!, usPerTokenMin: times[0]!, batches, tokensPerBatch: perBatch });
}
console.table(rows.map((r) => ({ vocab: r.vocab, keccaks: r.keccaks, "µs/token (median)": r.usPerTokenMedian.toFixed(1), "µs/token (min)": r.usPerTokenMin.toFixed(1) })));
const out = resultPath("sampling.json");
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, quick: QUICK, rows }, null, 2) + "\n");
console.log(`wrote ${out}`);
