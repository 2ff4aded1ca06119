import { network } from "hardhat";
import type { Log } from "viem";
import { describe, expect, it } from "vitest";
import { openNodeDatabase } from "../../protocol/node/database.js";
import { followLogs, LOG_CURSOR_SCHEMA } from "../../protocol/node/log-follower.js";
import { testTokenAbi } from "../../protocol/chain/generated/abi.js";

describe("followLogs", () => {
  it("reads confirmed ranges, persists its cursor, and rewinds across a reorg", async () => {
    const { viem, provider } = await network.create();
    const client = await viem.getPublicClient();
    const [wallet] = await viem.getWalletClients();
    const token = await viem.deployContract("TestToken", [wallet!.account.address]);
    const start = await client.getBlockNumber();
    const mint = async (amount: bigint) => client.waitForTransactionReceipt({ hash: await token.write.mint([wallet!.account.address, amount]) });
    for (const a of [1n, 2n, 3n]) await mint(a);

    const db = openNodeDatabase(":memory:", LOG_CURSOR_SCHEMA + "CREATE TABLE seen (block_hash TEXT, log_index INTEGER, amount TEXT, PRIMARY KEY (block_hash, log_index));");
    const follow = (confirmations: number) =>
      followLogs({
        db, name: "mints", client: client as never, address: token.address, abi: testTokenAbi, eventName: "Transfer",
        startBlock: start, confirmations, maxRange: 2,
        onLogs: (logs: Log[]) => {
          for (const log of logs as (Log & { args: { value: bigint } })[]) {
            db.prepare("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)").run(log.blockHash, log.logIndex, String(log.args.value));
          }
        },
      });
    const amounts = () => (db.prepare("SELECT amount FROM seen ORDER BY amount").all() as { amount: string }[]).map((r) => r.amount);

    // One confirmation: the newest mint stays unread; ranges of two blocks need two calls.
    while (await follow(1)) {}
    expect(amounts()).toEqual(["1", "2"]);
    while (await follow(0)) {}
    expect(amounts()).toEqual(["1", "2", "3"]);

    // Fork: mine 4 and 5, follow them, then revert and mine a different history.
    const snapshot = (await provider.request({ method: "evm_snapshot" })) as string;
    await mint(4n);
    await mint(5n);
    while (await follow(0)) {}
    expect(amounts()).toEqual(["1", "2", "3", "4", "5"]);
    await provider.request({ method: "evm_revert", params: [snapshot] });
    await mint(7n);
    await mint(8n);
    await mint(9n);
    db.exec("DELETE FROM seen WHERE amount IN ('4', '5')"); // what a handler would undo on rewind
    const first = await follow(0);
    expect(first?.reorged).toBe(true);
    while (await follow(0)) {}
    expect(amounts()).toEqual(["1", "2", "3", "7", "8", "9"]);
    await follow(0).then((r) => expect(r).toBeUndefined());
  });
});
