import { keccak256, toHex, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { respondToDisputes } from "../../node-common/prover-responder.js";
import type { StepproofClients } from "../../protocol/chain/client.js";
import { Phase } from "../../protocol/dispute/agent.js";

const GAME = "0x0000000000000000000000000000000000000a11" as const;
const failing = keccak256(toHex("a dispute whose read fails"));
const over = keccak256(toHex("a dispute the prover already won"));

/** A chain where reading `failing` fails and `over` is finished (ProverWon). */
function chain(): StepproofClients {
  return {
    publicClient: {
      getBlock: async () => ({ timestamp: 1_000n }),
      readContract: async ({ functionName, args }: { functionName: string; args?: readonly unknown[] }) => {
        if (functionName === "getDispute") {
          if (args?.[0] === failing) throw new Error("the RPC timed out");
          return { phase: Phase.ProverWon, jobId: 2n, position: 0, layer: 0, stepRoot: `0x${"00".repeat(32)}`, turnStartedAt: 0n, proverClockLeft: 0n, challengerClockLeft: 0n, roundsUsed: 0, revealedMask: 0, prover: GAME, challenger: GAME };
        }
        if (functionName === "getJob") return { status: 4, modelId: keccak256(toHex("m")), traceRoot: keccak256(toHex("t")), inputTokens: 3, samplingParams: 0n };
        if (functionName === "OP_COUNT") return 0;
        return 4n;
      },
    },
    deployment: { contracts: { stepProofGame: GAME, jobEscrow: GAME, modelRegistry: GAME } },
  } as unknown as StepproofClients;
}

/**
 * Each dispute has a clock of its own: one whose turn fails this pass (a chain read, a move
 * refused or not mined yet) must not cost the disputes after it their turn. Before, the first
 * failure ended the pass for every dispute behind it.
 */
describe("the prover's dispute responder", () => {
  const disputes = [
    { id: failing as Hex, jobId: 1n, openedBlock: 1n },
    { id: over as Hex, jobId: 2n, openedBlock: 1n },
  ];

  it("plays every dispute's turn when one fails, and reports the failure", async () => {
    const ended: Hex[] = [];
    const failed: Hex[] = [];
    await respondToDisputes({ clients: chain(), disputes, modelDir: "unused", traceFor: () => undefined, onOver: (d) => ended.push(d.id), onError: (d) => failed.push(d.id) });
    expect(failed).toEqual([failing]);
    expect(ended).toEqual([over]);
  });

  it("without an error handler, throws the first failure once every dispute has had its turn", async () => {
    const ended: Hex[] = [];
    await expect(respondToDisputes({ clients: chain(), disputes, modelDir: "unused", traceFor: () => undefined, onOver: (d) => ended.push(d.id) })).rejects.toThrow(/the RPC timed out/);
    expect(ended).toEqual([over]);
  });
});
