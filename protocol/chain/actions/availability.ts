import { maxUint256, type Hex } from "viem";
import { testTokenAbi, traceAvailabilityAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** A trace leaf of a committed job (PROTOCOL §8.1): hidden state h[row][tensor] chunk, or TOKEN_TENSOR at position row. */
export type TraceLeaf = { tensor: number; row: number; chunk: number };

const arg = (l: TraceLeaf) => ({ tensor: BigInt(l.tensor), row: BigInt(l.row), chunk: BigInt(l.chunk) });

export type ChallengeAvailabilityParameters = { jobId: bigint; leaves: readonly TraceLeaf[] };

/**
 * Demand up to 16 trace leaves of a committed job on-chain (TraceAvailability.challenge),
 * approving the leaf fees first if needed. Returns the content-derived challenge id; a
 * challenge already open for the same leaves is not opened again.
 */
export async function challengeAvailability(clients: StepproofClients, p: ChallengeAvailabilityParameters): Promise<{ challengeId: Hex; hash?: Hex }> {
  const { traceAvailability: av, token } = clients.deployment.contracts;
  const me = clients.walletClient!.account.address;
  const leaves = p.leaves.map(arg);
  const read = clients.publicClient.readContract.bind(clients.publicClient);
  const challengeId = await read({ address: av, abi: traceAvailabilityAbi, functionName: "challengeIdOf", args: [p.jobId, me, leaves] });
  const existing = await read({ address: av, abi: traceAvailabilityAbi, functionName: "getChallenge", args: [challengeId] });
  if (existing.status !== 0) return { challengeId };
  const fees = (await read({ address: av, abi: traceAvailabilityAbi, functionName: "leafFee" })) * BigInt(leaves.length);
  const allowance = await read({ address: token, abi: testTokenAbi, functionName: "allowance", args: [me, av] });
  if (allowance < fees) await sendContractTransaction(clients, { address: token, abi: testTokenAbi, functionName: "approve", args: [av, maxUint256], what: "approve the availability leaf fees" });
  const { hash } = await sendContractTransaction(clients, { address: av, abi: traceAvailabilityAbi, functionName: "challenge", args: [p.jobId, leaves], what: `challenge ${leaves.length} trace leaves of job ${p.jobId}` });
  return { challengeId, hash };
}

export type AnswerAvailabilityParameters = { challengeId: Hex; leaves: readonly TraceLeaf[]; data: readonly Hex[]; proofs: readonly (readonly Hex[])[] };

/** The prover publishes the demanded leaves with their proofs (TraceAvailability.answer). */
export async function answerAvailability(clients: StepproofClients, p: AnswerAvailabilityParameters) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.traceAvailability,
    abi: traceAvailabilityAbi,
    functionName: "answer",
    args: [p.challengeId, p.leaves.map(arg), p.data, p.proofs],
    what: `answer availability challenge ${p.challengeId}`,
  });
}

/** After an unanswered deadline: the job is slashed (TraceAvailability.claimUnanswered). */
export async function claimUnanswered(clients: StepproofClients, challengeId: Hex) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.traceAvailability,
    abi: traceAvailabilityAbi,
    functionName: "claimUnanswered",
    args: [challengeId],
    what: `claim unanswered availability challenge ${challengeId}`,
  });
}
