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
    // Capacity (PROTOCOL §9.4), refreshed every loop pass and /healthz: base units of the payment token.
    stake: new Gauge({ name: "stepproof_prover_stake", help: "Stake (base units)", registers: [registry] }),
    freeStake: new Gauge({ name: "stepproof_prover_free_stake", help: "Stake not locked by unsettled jobs (base units): the next job's collateral comes from it", registers: [registry] }),
    locked: new Gauge({ name: "stepproof_prover_locked_stake", help: "Collateral locked by Open and Committed jobs (base units)", registers: [registry] }),
    exposure: new Gauge({ name: "stepproof_prover_exposure", help: "Escrow of the prover's Open and Committed jobs (base units, JobEscrow.exposure)", registers: [registry] }),
    exposureLimit: new Gauge({ name: "stepproof_prover_exposure_limit", help: "Escrow the free stake deters (AuditManager.exposureLimit, PROTOCOL §9.4); -1 with an empty audit pool", registers: [registry] }),
    maxJobEscrow: new Gauge({ name: "stepproof_prover_max_job_escrow", help: "Largest escrow one more job may have now (0: no job can open)", registers: [registry] }),
    jailed: new Gauge({ name: "stepproof_prover_jailed", help: "1 while jailed after a proven fraud (no job opens)", registers: [registry] }),
    queuedJobs: new Gauge({ name: "stepproof_prover_queued_jobs", help: "Jobs admitted and not yet done (generating, or waiting for a batch slot)", registers: [registry] }),
    loopPassSeconds: new Histogram({ name: "stepproof_prover_loop_pass_seconds", help: "Wall time of one background loop pass", buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] }),
    loopLastPassSeconds: new Gauge({ name: "stepproof_prover_loop_last_pass_seconds", help: "Wall time of the latest background loop pass", registers: [registry] }),
    loopStepSeconds: new Gauge({ name: "stepproof_prover_loop_step_seconds", help: "Wall time of each step of the latest background loop pass", labelNames: ["step"] as const, registers: [registry] }),
    loopRpcCalls: new Gauge({ name: "stepproof_prover_loop_last_pass_rpc_calls", help: "JSON-RPC requests the latest loop pass made", registers: [registry] }),
    refusedRequests: new Counter({ name: "stepproof_prover_refused_requests_total", help: "Requests refused before any work: rate limits, signatures, entitlement, capacity", labelNames: ["code"] as const, registers: [registry] }),
    generationSeconds: new Histogram({ name: "stepproof_prover_generation_seconds", help: "Wall time of traced generation per job", buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [registry] }),
  };
}

export type ProverMetrics = ReturnType<typeof createProverMetrics>;
