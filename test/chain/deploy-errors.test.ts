import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeployError, deploySuite } from "../../scripts/lib/deploy-suite.js";
import { readDeployment } from "../../protocol/chain/deployments.js";
import { startAnvil, type LocalChain } from "../helpers/chains.js";

/** A non-development chain (Sepolia's id) served by anvil, so "testnet" rules apply. */
describe("deploying to a testnet-like chain", () => {
  let chain: LocalChain;
  let dir: string;
  const ids: string[] = [];
  const freshId = () => {
    const id = `test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    ids.push(id);
    return id;
  };

  beforeAll(async () => {
    chain = await startAnvil({ chainId: 11155111 });
    dir = await mkdtemp(path.join(tmpdir(), "stepproof-deploy-"));
  });
  afterAll(async () => {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
    for (const id of ids) await rm(path.join("ignition", "deployments", id), { recursive: true, force: true });
  });

  it("refuses an unfunded deployer before sending anything", async () => {
    const conn = await network.create({ network: "localhost", override: { url: chain.url, accounts: [generatePrivateKey()] } });
    const err = await deploySuite(conn, { deploymentsDir: dir, deploymentId: freshId() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect((err as Error).message).toMatch(/Insufficient funds: deployer 0x[0-9a-fA-F]{40} has 0 ETH on chain 11155111/);
    await conn.close();
  });

  it("asks for a payment token instead of deploying a test token", async () => {
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    await expect(deploySuite(conn, { deploymentsDir: dir, deploymentId: freshId() })).rejects.toThrow(/needs a payment token/);
    await conn.close();
  });

  it("deploys around an existing ERC-20 and writes the chain's deployment file", async () => {
    // First a token, as a testnet would already have one.
    const local = await network.create({ network: "localhost", override: { url: chain.url } });
    const token = await local.viem.deployContract("TestToken", [(await local.viem.getWalletClients())[0]!.account.address]);
    const { deployment, file } = await deploySuite(local, {
      deploymentsDir: dir,
      deploymentId: freshId(),
      parameters: { Stepproof: { paymentToken: token.address } },
    });
    expect(deployment.chainId).toBe(11155111);
    expect(deployment.contracts.token.toLowerCase()).toBe(token.address.toLowerCase());
    expect((await readDeployment(file, 11155111)).contracts.jobEscrow).toBe(deployment.contracts.jobEscrow);
    await expect(readDeployment(file, 31337)).rejects.toThrow(/is for chain 11155111, but the RPC serves chain 31337/);
    await local.close();
  });

  it("reports an unreachable chain", async () => {
    const conn = await network.create({ network: "localhost", override: { url: "http://127.0.0.1:9" } });
    await expect(deploySuite(conn, { deploymentsDir: dir, deploymentId: freshId() })).rejects.toThrow(/Cannot reach network/);
    await conn.close();
  });
});
