/**
 * On-chain cost of per-token payment on the voucher path (`npm run bench:settlement`,
 * PROTOCOL §5.8): gas per job and per output token for a job's whole life (its share of a
 * client deposit, the batch commit, the batch claim; disputes excluded), for 1,000-token jobs
 * in batches of 1, 10, 100 and 1,000, with one client per batch (an app or gateway buying for
 * its users) and with every job from a different client (the worst case: one deposit write per
 * job). Measured on EDR from real transaction receipts, in steady state (the prover's batch
 * slot and the clients' accounts already written once, as they are after the first batch).
 * Prices are parameters here, never fetched. Writes bench/results/settlement.json.
 */
import { writeFileSync } from "node:fs";
import { network } from "hardhat";
import { encodeFunctionData, keccak256, parseEventLogs, toHex, type Hex } from "viem";
import { QUICK, resultPath } from "./quick.js";

const OUTPUT_TOKENS = 1_000;
const INPUT_TOKENS = 200;
/** A client's deposit funds this many jobs before it tops up (its gas is shared by them). */
const JOBS_PER_DEPOSIT = 1_000;
const ETH_USD = 3_000;
const GAS_PRICES_GWEI = { l1: 10, l2High: 0.01, l2Low: 0.001 };
const USD_PER_MILLION_TOKENS = [0.3, 0.075];
const BATCH_SIZES = QUICK ? [1, 10] : [1, 10, 100, 1_000];
const IN_PRICE = 10n ** 9n;
const OUT_PRICE = 10n ** 9n;
const CHARGE = BigInt(INPUT_TOKENS) * IN_PRICE + BigInt(OUTPUT_TOKENS) * OUT_PRICE;

type Row = {
  batchSize: number;
  clients: number;
  commitGas: number;
  claimGas: number;
  commitAndClaimGas: number;
  depositGas: number;
  gasPerJob: number;
  gasPerJobOneTx: number;
  /** The prover node's steady state: each batch claimed in the transaction that commits the next. */
  gasPerOutputToken: number;
  /** The same with the claim and the commit as two transactions. */
  gasPerOutputTokenTwoTx: number;
  usdPerJob: { l1: number; l2High: number; l2Low: number };
  revenueUsd: number[];
  protocolCostShareL2High: number;
  protocolCostShareL2Low: number;
};

async function main() {
  const { viem } = await network.create();
  const publicClient = await viem.getPublicClient();
  const wallets = await viem.getWalletClients();
  const admin = wallets[0]!;
  const prover = wallets[1]!;
  const token = await viem.deployContract("TestToken", [admin.account.address]);
  const models = await viem.deployContract("ModelRegistry", [admin.account.address, 20]);
  const treasury = admin.account.address;
  const nodes = await viem.deployContract("NodeRegistry", [admin.account.address, token.address, models.address, 10n ** 18n, 10n ** 18n, 7n * 86400n, treasury]);
  const escrowParams = { feeBps: 250, commitTimeout: 600, challengeWindow: 3600, collateralBps: 20_000, minCollateral: 10n ** 18n, missedCommitPenaltyBps: 5000, challengerRewardBps: 5000, declineWindow: 120, maxPublishedPerProver: 4 };
  const escrow = await viem.deployContract("JobEscrow", [admin.account.address, token.address, nodes.address, models.address, escrowParams]);
  const voucherParams = { feeBps: 250, auditFeeBps: 500, collateralBps: 20_000, challengeWindow: 3600, answerWindow: 600, withdrawalNotice: 86400, challengerRewardBps: 5000, maxDebits: 1024 };
  const vouchers = await viem.deployContract("VoucherEscrow", [admin.account.address, token.address, nodes.address, escrow.address, voucherParams, 10n ** 16n]);
  const receiptOf = async (hash: Hex) => {
    const r = await publicClient.waitForTransactionReceipt({ hash });
    if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return r;
  };
  const send = async (hash: Hex) => Number((await receiptOf(hash)).gasUsed);
  /** Commit and read the stored header back from BatchCommitted, as a verifier does. */
  const commit = async (hash: Hex) => {
    const r = await receiptOf(hash);
    const [ev] = parseEventLogs({ abi: vouchers.abi, logs: r.logs, eventName: "BatchCommitted" });
    if (!ev) throw new Error(`commit ${hash} emitted no BatchCommitted`);
    return { gas: Number(r.gasUsed), header: ev.args.header };
  };
  await send(await nodes.write.grantRole([await nodes.read.ESCROW_ROLE(), vouchers.address]));
  const stake = 10n ** 30n;
  await send(await token.write.mint([prover.account.address, stake]));
  await send(await token.write.approve([nodes.address, stake], { account: prover.account }));
  await send(await nodes.write.register([1, stake, "http://127.0.0.1:8600"], { account: prover.account }));
  await send(await vouchers.write.reserve([stake], { account: prover.account }));

  const maxClients = Math.max(...BATCH_SIZES);
  const testClient = await viem.getTestClient();
  const clients: Hex[] = Array.from({ length: maxClients }, (_, i) => `0x${(0xc1000000 + i).toString(16).padStart(40, "0")}` as Hex);
  let depositGas = 0;
  for (const c of clients) {
    await testClient.impersonateAccount({ address: c });
    await testClient.setBalance({ address: c, value: 10n ** 20n });
    const amount = CHARGE * BigInt(JOBS_PER_DEPOSIT) * 20n;
    await send(await token.write.mint([c, amount]));
    await send(await token.write.approve([vouchers.address, amount], { account: c }));
    depositGas = await send(await vouchers.write.deposit([prover.account.address, amount], { account: c }));
  }
  const nonces = new Map<Hex, bigint>();
  const debitsFor = (size: number, nClients: number) => {
    const per = size / nClients;
    return clients.slice(0, nClients).map((client) => {
      const first = nonces.get(client) ?? 0n;
      nonces.set(client, first + BigInt(per));
      return { client, firstNonce: first, lastNonce: first + BigInt(per) - 1n, count: per, amount: CHARGE * BigInt(per) };
    });
  };
  const abi = vouchers.abi;

  const rows: Row[] = [];
  let slot = 1n;
  for (const size of BATCH_SIZES) {
    for (const nClients of [...new Set([1, size])]) {
      // First pass writes the slot and the accounts for the first time; the second is steady state.
      let commitGas = 0;
      let claimGas = 0;
      let header: Awaited<ReturnType<typeof commit>>["header"] | undefined;
      for (let pass = 0; pass < 2; pass++) {
        const debits = debitsFor(size, nClients);
        const root = keccak256(toHex(`batch ${size} ${nClients} ${pass}`));
        ({ gas: commitGas, header } = await commit(await vouchers.write.commitBatch([slot, root, size, debits], { account: prover.account })));
        await testClient.increaseTime({ seconds: 3601 });
        await testClient.mine({ blocks: 1 });
        claimGas = await send(await vouchers.write.claimBatch([header!]));
      }
      // Steady state in one transaction: commit the next batch and claim the last (multicall).
      const debits = debitsFor(size, nClients);
      const root = keccak256(toHex(`batch ${size} ${nClients} next`));
      const { header: lastHeader } = await commit(await vouchers.write.commitBatch([slot + 1n, root, size, debits], { account: prover.account }));
      await testClient.increaseTime({ seconds: 3601 });
      await testClient.mine({ blocks: 1 });
      const nextDebits = debitsFor(size, nClients);
      const nextRoot = keccak256(toHex(`batch ${size} ${nClients} after`));
      // The slot is busy until claimed: claim the last batch, then commit the next into it.
      const combined = await send(
        await vouchers.write.multicall(
          [[
            encodeFunctionData({ abi, functionName: "claimBatch", args: [lastHeader] }),
            encodeFunctionData({ abi, functionName: "commitBatch", args: [slot + 1n, nextRoot, size, nextDebits] }),
          ]],
          { account: prover.account },
        ),
      );
      slot += 2n;
      // Each job's share of its client's deposit: one deposit per JOBS_PER_DEPOSIT jobs.
      const depositPerJob = depositGas / JOBS_PER_DEPOSIT;
      const gasPerJob = (commitGas + claimGas) / size + depositPerJob;
      const gasPerJobOneTx = combined / size + depositPerJob;
      const usd = (gwei: number) => (gasPerJobOneTx * gwei * 1e-9 * ETH_USD);
      const revenue = USD_PER_MILLION_TOKENS.map((p) => (p * OUTPUT_TOKENS) / 1e6);
      rows.push({
        batchSize: size, clients: nClients, commitGas, claimGas, commitAndClaimGas: combined, depositGas,
        gasPerJob: Math.round(gasPerJob), gasPerJobOneTx: Math.round(gasPerJobOneTx),
        gasPerOutputToken: Number((gasPerJobOneTx / OUTPUT_TOKENS).toFixed(3)),
        gasPerOutputTokenTwoTx: Number((gasPerJob / OUTPUT_TOKENS).toFixed(3)),
        usdPerJob: { l1: usd(GAS_PRICES_GWEI.l1), l2High: usd(GAS_PRICES_GWEI.l2High), l2Low: usd(GAS_PRICES_GWEI.l2Low) },
        revenueUsd: revenue,
        protocolCostShareL2High: usd(GAS_PRICES_GWEI.l2High) / revenue[0]!,
        protocolCostShareL2Low: usd(GAS_PRICES_GWEI.l2Low) / revenue[0]!,
      });
    }
  }

  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(`\nbench:settlement — ${OUTPUT_TOKENS}-token jobs (+${INPUT_TOKENS} prompt tokens), deposit shared by ${JOBS_PER_DEPOSIT} jobs, steady state, EDR`);
  console.log(`prices: ETH $${ETH_USD}; L1 ${GAS_PRICES_GWEI.l1} gwei, L2 ${GAS_PRICES_GWEI.l2High}/${GAS_PRICES_GWEI.l2Low} gwei; revenue $${USD_PER_MILLION_TOKENS.join(" / $")} per million tokens\n`);
  console.log("gas/job: the node's steady state (a batch's claim in the transaction committing the next); 2 txs: claim and commit apart\n");
  console.log("| batch | clients | commit gas | claim gas | gas/job | gas/job (2 txs) | gas/output token | USD/job L1 | USD/job L2 0.01 gwei | cost/revenue L2 0.01 / 0.001 gwei @ $0.30/M |");
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${fmt(r.batchSize)} | ${fmt(r.clients)} | ${fmt(r.commitGas)} | ${fmt(r.claimGas)} | ${fmt(r.gasPerJobOneTx)} | ${fmt(r.gasPerJob)} | ${r.gasPerOutputToken} | ${r.usdPerJob.l1.toExponential(2)} | ${r.usdPerJob.l2High.toExponential(2)} | ${(100 * r.protocolCostShareL2High).toFixed(2)} % / ${(100 * r.protocolCostShareL2Low).toFixed(2)} % |`,
    );
  }
  const path = resultPath("settlement.json");
  writeFileSync(
    path,
    JSON.stringify({ outputTokens: OUTPUT_TOKENS, inputTokens: INPUT_TOKENS, jobsPerDeposit: JOBS_PER_DEPOSIT, ethUsd: ETH_USD, gasPricesGwei: GAS_PRICES_GWEI, usdPerMillionTokens: USD_PER_MILLION_TOKENS, rows }, null, 2) + "\n",
  );
  console.log(`\nwrote ${path}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
