import { encodeAbiParameters, keccak256, type Hex } from "viem";

/**
 * Which jobs and layers a verifier checks. Choices are keccak256(secret, jobId, ...) so a
 * prover, who never sees the secret, cannot predict them, while a restarted verifier makes the
 * same choices again (the secret is persisted).
 */
export type SamplingPolicy = {
  /** Fraction of committed jobs checked, in (0, 1]. */
  jobFraction: number;
  /** Layers re-executed per checked job; each covers every position of that layer. */
  layersPerJob: number;
};

const TWO_256 = 2n ** 256n;

function draw(secret: Hex, ...parts: bigint[]): bigint {
  return BigInt(keccak256(encodeAbiParameters([{ type: "bytes32" }, { type: "uint256[]" }], [secret, parts])));
}

/** Whether to check `jobId`: P = jobFraction, independent across jobs. */
export function shouldCheckJob(secret: Hex, jobId: bigint, policy: SamplingPolicy): boolean {
  if (!(policy.jobFraction > 0 && policy.jobFraction <= 1)) throw new RangeError(`jobFraction must be in (0, 1], got ${policy.jobFraction}`);
  const threshold = (TWO_256 * BigInt(Math.round(policy.jobFraction * 1e9))) / 1_000_000_000n;
  return draw(secret, jobId, 0n) < threshold;
}

/**
 * `layersPerJob` distinct boundaries out of 0..L (0 = embedding), uniformly, by a keyed
 * Fisher–Yates shuffle.
 */
export function sampleLayers(secret: Hex, jobId: bigint, layers: number, policy: SamplingPolicy): number[] {
  const all = Array.from({ length: layers + 1 }, (_, i) => i);
  const k = Math.min(Math.max(1, policy.layersPerJob), all.length);
  for (let i = 0; i < k; i++) {
    const j = i + Number(draw(secret, jobId, 1n, BigInt(i)) % BigInt(all.length - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, k).sort((a, b) => a - b);
}

/**
 * Probability that one corrupted job is caught: the job is checked and the corrupted layer is
 * among those re-executed (a layer check covers every position, so the position does not
 * matter). A cheater corrupting `m` jobs escapes with (1 − p)^m.
 */
export function detectionProbability(policy: SamplingPolicy, layers: number, corruptedJobs = 1): { perJob: number; overJobs: number } {
  const perJob = policy.jobFraction * (Math.min(policy.layersPerJob, layers + 1) / (layers + 1));
  return { perJob, overJobs: 1 - (1 - perJob) ** corruptedJobs };
}
