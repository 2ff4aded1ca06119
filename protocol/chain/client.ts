import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Account,
  type Chain,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { StepproofError } from "../errors.js";
import { deploymentPath, readDeployment, type Deployment } from "./deployments.js";

export class ChainConnectionError extends StepproofError {
  override name = "ChainConnectionError";
}

export type StepproofClients = {
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account> | undefined;
  deployment: Deployment;
  /** ConnectParameters.onRpcRequest, for clients made later on the same connection (batched reads). */
  onRpcRequest?: () => void;
};

export type ConnectParameters = {
  rpcUrl: string;
  /** Default: deployments/<chainId>.json under the working directory, where `npm run deploy` writes it. */
  deploymentFile?: string;
  /** Signs transactions; omit for read-only use. */
  account?: Account;
  /** Refuse to run unless the RPC serves this chain (protects against a wrong URL). */
  expectedChainId?: number;
  /** Called for every JSON-RPC HTTP request the clients send (a node counts its loop's cost with it). */
  onRpcRequest?: () => void;
};

/**
 * Connect to a JSON-RPC chain, check its chain id against the deployment file, and check the
 * contracts really are deployed there.
 */
export async function connectStepproof(params: ConnectParameters): Promise<StepproofClients> {
  const probe = createPublicClient({ transport: http(params.rpcUrl, { retryCount: 3 }) });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (cause) {
    throw new ChainConnectionError(`Cannot reach a JSON-RPC chain at ${params.rpcUrl}.`, { cause });
  }
  if (params.expectedChainId !== undefined && chainId !== params.expectedChainId) {
    throw new ChainConnectionError(`Wrong chain: ${params.rpcUrl} serves chain ${chainId}, expected ${params.expectedChainId}.`);
  }
  const deployment = await readDeployment(params.deploymentFile ?? deploymentPath(chainId), chainId);
  const chain = defineChain({
    id: chainId,
    name: `chain-${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [params.rpcUrl] } },
  });
  const transport = http(params.rpcUrl, { retryCount: 5, retryDelay: 250, ...(params.onRpcRequest ? { onFetchRequest: () => params.onRpcRequest!() } : {}) });
  const publicClient = createPublicClient({ chain, transport });
  const code = await publicClient.getCode({ address: deployment.contracts.jobEscrow });
  if (!code || code === "0x") {
    throw new ChainConnectionError(`No JobEscrow contract at ${deployment.contracts.jobEscrow} on chain ${chainId}.`, {
      details: "The deployment file does not match this chain's state (a restarted dev chain?). Redeploy.",
    });
  }
  const walletClient = params.account ? createWalletClient({ chain, transport, account: params.account }) : undefined;
  return { chain, publicClient, walletClient, deployment, ...(params.onRpcRequest ? { onRpcRequest: params.onRpcRequest } : {}) };
}
