/**
 * Wait for every one of `tasks`, then throw the first failure if any: unlike Promise.all, no
 * task is still running when the caller moves on (a loop step that ended early would leave
 * generations and transactions going behind the next one).
 */
export async function settleAll(tasks: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(tasks)).find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
