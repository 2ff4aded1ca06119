import { decodeEventLog, toEventSelector, type Abi, type AbiEvent, type Address, type Hex, type Log } from "viem";
import { auditManagerAbi, jobEscrowAbi, modelRegistryAbi, nodeRegistryAbi, stepProofGameAbi, traceAvailabilityAbi } from "../../protocol/chain/generated/abi.js";
import type { Deployment } from "../../protocol/chain/deployments.js";

/**
 * The events the dashboard folds into its ledger, per contract. Only these are requested
 * (topic0 filter): the step game's ChunksRevealed and the escrow's PromptPublished carry
 * kilobytes of data the page never shows, and their effects are read from state instead.
 */
export const WATCHED = {
  modelRegistry: { abi: modelRegistryAbi, events: ["ModelRegistered"] },
  nodeRegistry: { abi: nodeRegistryAbi, events: ["NodeRegistered", "EndpointUpdated", "OfferSet", "OfferRemoved", "StakeSlashed"] },
  jobEscrow: {
    abi: jobEscrowAbi,
    events: ["JobOpened", "ResultCommitted", "JobFinalized", "JobSlashed", "JobExpired", "JobDeclined", "JobDisputeOpened", "JobDisputeResolved", "SlashRewardPaid", "AuditPoolFunded", "AuditPaid", "ChallengeWindowExtended"],
  },
  stepProofGame: { abi: stepProofGameAbi, events: ["DisputeOpened", "StepRootPosted", "FraudProven", "MalformedCommitmentProven", "TimeoutClaimed", "DisputeResolved", "DisputeCancelled"] },
  traceAvailability: { abi: traceAvailabilityAbi, events: ["AvailabilityChallenged", "AvailabilityAnswered", "AvailabilityFailed", "AvailabilityCancelled"] },
  auditManager: {
    abi: auditManagerAbi,
    events: ["PoolJoined", "PoolLeft", "PoolEvicted", "AuditDrawn", "AuditReported", "AuditDisputed", "AuditMissed", "AuditPayClaimed", "AuditorEjected", "CanaryExposed", "ModelAuditRateSet"],
  },
} as const satisfies Record<string, { abi: Abi; events: readonly string[] }>;

export type WatchedContract = keyof typeof WATCHED;

/** A decoded log the ledger applies, with where it happened. */
export type ChainEvent = {
  contract: WatchedContract;
  name: string;
  args: Record<string, unknown>;
  blockNumber: bigint;
  logIndex: number;
  /** Block timestamp (s). */
  time: bigint;
};

export type EventFilter = { addresses: Address[]; topics: [Hex[]]; decode(log: Log): Omit<ChainEvent, "time"> | undefined };

/** The eth_getLogs filter for the deployment's contracts and a decoder keyed by emitting address. */
export function eventFilter(deployment: Deployment): EventFilter {
  const byAddress = new Map<string, { contract: WatchedContract; abi: Abi }>();
  const selectors = new Set<Hex>();
  for (const [contract, w] of Object.entries(WATCHED) as [WatchedContract, (typeof WATCHED)[WatchedContract]][]) {
    byAddress.set(deployment.contracts[contract].toLowerCase(), { contract, abi: w.abi });
    for (const name of w.events) {
      const item = (w.abi as Abi).find((e): e is AbiEvent => e.type === "event" && e.name === name);
      if (!item) throw new Error(`event ${name} is not in the ${contract} ABI`); // the ABIs are generated: a rename must fail loudly
      selectors.add(toEventSelector(item));
    }
  }
  return {
    addresses: [...byAddress.keys()] as Address[],
    topics: [[...selectors]],
    decode(log) {
      const source = byAddress.get(log.address.toLowerCase());
      if (!source || log.blockNumber === null || log.logIndex === null) return undefined;
      try {
        const d = decodeEventLog({ abi: source.abi, data: log.data, topics: log.topics, strict: true });
        if (!(WATCHED[source.contract].events as readonly string[]).includes(d.eventName!)) return undefined;
        return { contract: source.contract, name: d.eventName!, args: d.args as unknown as Record<string, unknown>, blockNumber: log.blockNumber, logIndex: log.logIndex };
      } catch {
        // A selector shared with another contract's event that this ABI lays out differently.
        return undefined;
      }
    },
  };
}
