import { jobEscrowAbi } from "../generated/abi.js";
import type { StepproofClients } from "../client.js";
import { sendContractTransaction } from "./send.js";

/** The prompt's token ids as publishPrompt and TokenRoot.root take them: uint32 big-endian each. */
export function encodePromptTokens(tokens: readonly number[]): `0x${string}` {
  for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) throw new RangeError(`token id out of range: ${t}`);
  return `0x${tokens.map((t) => t.toString(16).padStart(8, "0")).join("")}`;
}

export function decodePromptTokens(bytes: `0x${string}`): number[] {
  const hex = bytes.slice(2);
  const out: number[] = [];
  for (let i = 0; i + 8 <= hex.length; i += 8) out.push(Number.parseInt(hex.slice(i, i + 8), 16));
  return out;
}

/**
 * The client publishes its prompt on-chain when the prover did not serve it (PROTOCOL §5.3):
 * the prover then has it for certain, gets a fresh commit timeout (or the decline window), and a
 * miss is its fault. The contract checks length (inputTokens), ids (< vocab) and promptRoot.
 */
export async function publishPrompt(clients: StepproofClients, p: { jobId: bigint; promptTokens: readonly number[] }) {
  return sendContractTransaction(clients, {
    address: clients.deployment.contracts.jobEscrow,
    abi: jobEscrowAbi,
    functionName: "publishPrompt",
    args: [p.jobId, encodePromptTokens(p.promptTokens)],
    what: `publish the prompt of job ${p.jobId}`,
  });
}
