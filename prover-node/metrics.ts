import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics of one node; a registry per node so several nodes can share a process (tests, demo). */
export function createProverMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "stepproof_prover_" });
  return {
    registry,
    requests: new Counter({ name: "stepproof_prover_http_requests_total", help: "HTTP requests by route and status", labelNames: ["route", "status"] as const, registers: [registry] }),
    jobsServed: new Counter({ name: "stepproof_prover_jobs_served_total", help: "Jobs generated and persisted", labelNames: ["corrupted"] as const, registers: [registry] }),
    tokensGenerated: new Counter({ name: "stepproof_prover_tokens_generated_total", help: "Output tokens generated", registers: [registry] }),
    commits: new Counter({ name: "stepproof_prover_commits_total", help: "commitResult transactions mined", registers: [registry] }),
    finalized: new Counter({ name: "stepproof_prover_jobs_finalized_total", help: "Jobs this node finalized", registers: [registry] }),
    loopErrors: new Counter({ name: "stepproof_prover_loop_errors_total", help: "Background loop steps that failed (retried next tick)", labelNames: ["step"] as const, registers: [registry] }),
    jobsByState: new Gauge({ name: "stepproof_prover_jobs", help: "Jobs in the node's database by state", labelNames: ["state"] as const, registers: [registry] }),
    generationSeconds: new Histogram({ name: "stepproof_prover_generation_seconds", help: "Wall time of traced generation per job", buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [registry] }),
  };
}

export type ProverMetrics = ReturnType<typeof createProverMetrics>;
