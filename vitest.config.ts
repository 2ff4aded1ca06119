import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "protocol/**/*.test.ts", "runtime/**/*.test.ts", "prover-node/**/*.test.ts", "verifier-node/**/*.test.ts", "client/**/*.test.ts"],
    // Chain and model tests share 2 cores; run files in a few forks, never threads
    // (onnxruntime-node and EDR are native and not worker-safe).
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
