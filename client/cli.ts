#!/usr/bin/env -S npx tsx
/**
 * stepproof-client run --prompt … --max-tokens N [--prover addr] [--model id] [--chat] [--vouchers [--top-up T] [--wait-batch S]]
 * stepproof-client deposit --prover addr --amount T
 * stepproof-client voucher <voucherHash> [--claim-missed]
 * stepproof-client status <jobId>
 * stepproof-client withdraw
 * stepproof-client gateway --model <id> [--model <id>…] [--port 8080] [--max-per-request T] [--max-per-day T] [--vouchers [--top-up T]]
 * Chain options come from flags or STEPPROOF_RPC_URL / STEPPROOF_DEPLOYMENT / STEPPROOF_KEYSTORE
 * (defaults: the dev chain at 127.0.0.1:8545, deployments/<chainId>.json);
 * the keystore password from STEPPROOF_KEYSTORE_PASSWORD or a prompt.
 */
import { Command } from "commander";
import { addKeysCommand } from "../protocol/node/keys-command.js";
import { formatEther, getAddress, isAddress, isHex, parseEther, type Hex } from "viem";
import { connectStepproof } from "../protocol/chain/client.js";
import { withdrawCredits } from "../protocol/chain/actions/withdrawCredits.js";
import { defaultRpcUrl } from "../protocol/node/chain-defaults.js";
import { runCli } from "../protocol/node/cli-errors.js";
import { readManifest } from "../runtime/model/manifest.js";
import { loadKeystoreAccount } from "../protocol/node/keystore.js";
import { ClientError } from "./errors.js";
import { jobStatus } from "./job-status.js";
import { runJob } from "./run-job.js";
import { runVoucherJob } from "./run-voucher-job.js";
import type { SamplingRequest } from "./sampling.js";
import { depositForProver, readVoucherAccount } from "../protocol/chain/actions/vouchers.js";
import { claimMissedPublication, PublicationStatus, readPublication } from "../protocol/chain/actions/voucher-publication.js";
import { startGateway } from "./gateway/server.js";

type ChainOptions = { rpc?: string; deployment?: string; keystore?: string; chainId?: string };

const program = new Command()
  .name("stepproof-client")
  .description("pay a stepproof prover per token and check what it commits")
  .option("--rpc <url>", "JSON-RPC URL (default STEPPROOF_RPC_URL, else http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default STEPPROOF_DEPLOYMENT, else deployments/<chainId>.json)")
  .option("--keystore <file>", "encrypted JSON keystore of the paying account (env STEPPROOF_KEYSTORE)")
  .option("--chain-id <id>", "refuse any other chain");

async function connect(o: ChainOptions, signer: boolean) {
  const rpcUrl = defaultRpcUrl(o.rpc);
  // Default: deployments/<chainId>.json, where `npm run deploy` writes it.
  const deploymentFile = o.deployment ?? process.env["STEPPROOF_DEPLOYMENT"];
  const keystore = o.keystore ?? process.env["STEPPROOF_KEYSTORE"];
  if (signer && !keystore) throw new ClientError("give --keystore (or STEPPROOF_KEYSTORE): the job is paid from that account");
  const account = signer ? await loadKeystoreAccount(keystore!) : undefined;
  return connectStepproof({ rpcUrl, ...(deploymentFile ? { deploymentFile } : {}), ...(account ? { account } : {}), ...(o.chainId ? { expectedChainId: Number(o.chainId) } : {}) });
}

/** Text for a terminal: control characters (a synthetic model emits any byte) shown as escapes, newlines and tabs kept. */
const printable = (t: string) => t.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

program
  .command("run")
  .description("open and fund a job, stream the output, check it against the on-chain commitment")
  .requiredOption("--prompt <text>", "the prompt")
  .requiredOption("--max-tokens <n>", "maximum output tokens (paid for up front, refunded if unused)")
  .option("--model <id>", "model id (bytes32); default: the --model-dir package's")
  .option("--model-dir <dir>", "local model package for the tokenizer (default: the prover's manifest, checked on-chain)")
  .option("--prover <address>", "use this prover (default: cheapest, then largest stake)")
  .option("--chat", "send the prompt as one user message to /v1/chat/completions")
  .option("--temperature <t>", "sampling temperature (0 = greedy)", "0")
  .option("--seed <n>", "sampling seed, 64-bit (default: a fresh random one per job when --temperature > 0; the same seed and prompt give the same output)")
  .option("--json", "print the result as JSON (no streaming)")
  .option("--vouchers", "pay with a signed voucher against a deposit for the prover (PROTOCOL §5.8) instead of opening a job")
  .option("--top-up <tokens>", "with --vouchers: deposit this much for the prover if the deposit cannot cover the voucher")
  .option("--wait-batch <seconds>", "with --vouchers: wait this long for the job's batch and check its leaf on-chain", "0")
  .action(async (o: { prompt: string; maxTokens: string; model?: string; modelDir?: string; prover?: string; chat?: boolean; temperature: string; seed?: string; json?: boolean; vouchers?: boolean; topUp?: string; waitBatch: string }) => {
    const maxTokens = Number(o.maxTokens);
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new ClientError(`--max-tokens must be a positive integer, got ${o.maxTokens}`);
    if (o.prover && !isAddress(o.prover)) throw new ClientError(`--prover is not an address: ${o.prover}`);
    const modelId = (o.model ?? (o.modelDir ? (await readManifest(o.modelDir)).modelId : undefined)) as Hex | undefined;
    if (!modelId || !isHex(modelId) || modelId.length !== 66) throw new ClientError("give --model <bytes32 id> or --model-dir");
    if (!o.vouchers && (o.topUp !== undefined || o.waitBatch !== "0")) throw new ClientError("--top-up and --wait-batch need --vouchers");
    const clients = await connect(program.opts<ChainOptions>(), true);
    if (o.vouchers) return runWithVoucher(clients, modelId, maxTokens, o);
    const r = await runJob(clients, {
      modelId,
      prompt: o.chat ? { messages: [{ role: "user", content: o.prompt }] } : { text: o.prompt },
      maxTokens,
      samplingParams: samplingRequest(o),
      ...(o.prover ? { prover: getAddress(o.prover) } : {}),
      ...(o.modelDir ? { modelDir: o.modelDir } : {}),
      ...(o.json ? {} : { onText: (t: string) => process.stdout.write(printable(t)) }),
      onModel: (m) => {
        // A seeded synthetic model's output is random bytes: say so before any of it is printed.
        if (m.synthetic && !o.json) console.error(`(${m.name} is a synthetic model with random weights: its text is noise that every verifier re-derives, not language; the token ids below are what the prover committed)`);
      },
    });
    const total = r.inputTokens + r.outputTokens;
    const summary = {
      jobId: r.jobId.toString(),
      prover: r.prover,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      outputTokenIds: r.outputTokenIds,
      inputPrice: formatEther(r.inputPrice),
      outputPrice: formatEther(r.outputPrice),
      cost: formatEther(r.cost),
      costPerToken: formatEther(total > 0 ? r.cost / BigInt(total) : 0n),
      escrowed: formatEther(r.escrowed),
      traceRoot: r.traceRoot,
      commitTx: r.commitTx ?? null,
      // With the seed drawn for a sampled job: the same samplingParams and prompt reproduce the output (§4.4).
      samplingParams: r.samplingParams.toString(),
      verified: true,
    };
    if (o.json) console.log(JSON.stringify({ ...summary, text: r.text }));
    else
      console.log(
        `\n\njob ${summary.jobId} · prover ${r.prover}\n` +
          `tokens: ${r.inputTokens} in + ${r.outputTokens} out; ids ${JSON.stringify(r.outputTokenIds)}\n` +
          `cost: ${summary.cost} (${summary.inputPrice}/input token, ${summary.outputPrice}/output token; ${summary.costPerToken} per token overall); escrowed ${summary.escrowed}, the rest is refunded when the job is finalized after its challenge window (then \`withdraw\` moves it to the wallet)\n` +
          `committed: trace root ${r.traceRoot}, outputRoot matches the tokens received`,
      );
  });

/** --temperature and --seed as a sampling request (a fresh seed per job when none is given). */
function samplingRequest(o: { temperature: string; seed?: string }): SamplingRequest {
  const temperature = Number(o.temperature);
  if (Number.isNaN(temperature)) throw new ClientError(`--temperature must be a number, got ${o.temperature}`);
  if (o.seed === undefined) return { temperature };
  let seed: bigint;
  try {
    seed = BigInt(o.seed);
  } catch {
    throw new ClientError(`--seed must be an integer, got ${o.seed}`);
  }
  if (seed < 0n || seed >= 1n << 64n) throw new ClientError(`--seed must be a 64-bit unsigned integer, got ${o.seed}`);
  return { temperature, seed };
}

/** `run --vouchers`: one voucher job (PROTOCOL §5.8), its leaf checked if --wait-batch is given. */
async function runWithVoucher(
  clients: Awaited<ReturnType<typeof connect>>,
  modelId: Hex,
  maxTokens: number,
  o: { prompt: string; modelDir?: string; prover?: string; chat?: boolean; temperature: string; seed?: string; json?: boolean; topUp?: string; waitBatch: string },
) {
  const waitSeconds = Number(o.waitBatch);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new ClientError(`--wait-batch must be a number of seconds, got ${o.waitBatch}`);
  const topUp = tokenAmount("--top-up", o.topUp);
  const r = await runVoucherJob(clients, {
    modelId,
    prompt: o.chat ? { messages: [{ role: "user", content: o.prompt }] } : { text: o.prompt },
    maxTokens,
    samplingParams: samplingRequest(o),
    ...(o.prover ? { prover: getAddress(o.prover) } : {}),
    ...(o.modelDir ? { modelDir: o.modelDir } : {}),
    ...(topUp !== undefined ? { deposit: topUp } : {}),
    waitForBatchMs: Math.round(waitSeconds * 1000),
    ...(o.json ? {} : { onText: (t: string) => process.stdout.write(printable(t)) }),
  });
  const summary = {
    voucherHash: r.voucherHash,
    nonce: r.voucher.nonce.toString(),
    samplingParams: r.voucher.samplingParams.toString(),
    prover: r.prover,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    outputTokenIds: r.outputTokenIds,
    cost: formatEther(r.cost),
    deposited: formatEther(r.deposited),
    traceRoot: r.traceRoot,
    batch: r.batch ?? null,
    verified: r.batch !== undefined,
  };
  if (o.json) console.log(JSON.stringify({ ...summary, text: r.text }));
  else
    console.log(
      `\n\nvoucher ${r.voucherHash} (nonce ${summary.nonce}) · prover ${r.prover}\n` +
        `tokens: ${r.inputTokens} in + ${r.outputTokens} out; ids ${JSON.stringify(r.outputTokenIds)}\n` +
        `cost once batched: ${summary.cost}${r.deposited > 0n ? ` (deposited ${summary.deposited} for the prover first)` : ""}\n` +
        (r.batch ? `batched: leaf ${r.batch.index} of batch ${r.batch.batchId}, checked against the header on-chain` : "not yet batched: the prover commits it before the voucher expires; its leaf must match these ids and the trace root above"),
    );
}

const tokenAmount = (flag: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  let amount: bigint;
  try {
    amount = parseEther(v);
  } catch {
    throw new ClientError(`${flag} must be a token amount like 0.5, got ${v}`);
  }
  if (amount <= 0n) throw new ClientError(`${flag} must be positive, got ${v}`);
  return amount;
};

program
  .command("deposit")
  .description("deposit payment tokens for one prover, to pay its voucher jobs from (PROTOCOL §5.8)")
  .requiredOption("--prover <address>", "the prover the deposit is for")
  .requiredOption("--amount <tokens>", "how much to deposit, e.g. 1.5")
  .option("--json", "machine-readable output")
  .action(async (o: { prover: string; amount: string; json?: boolean }) => {
    if (!isAddress(o.prover)) throw new ClientError(`--prover is not an address: ${o.prover}`);
    const amount = tokenAmount("--amount", o.amount)!;
    const prover = getAddress(o.prover);
    const clients = await connect(program.opts<ChainOptions>(), true);
    const { hash } = await depositForProver(clients, { prover, amount });
    const account = await readVoucherAccount(clients, { client: clients.walletClient!.account.address, prover });
    if (o.json) console.log(JSON.stringify({ prover, deposited: formatEther(amount), balance: formatEther(account.balance), nextNonce: account.nextNonce.toString(), tx: hash }));
    else console.log(`deposited ${formatEther(amount)} for prover ${prover} (tx ${hash}); the deposit is now ${formatEther(account.balance)}, next voucher nonce ${account.nextNonce}`);
  });

program
  .command("status")
  .description("a job's status, commit and challenge windows, and disputes")
  .argument("<jobId>", "job id")
  .option("--json", "machine-readable output")
  .action(async (id: string, o: { json?: boolean }) => {
    if (!/^[1-9]\d*$/.test(id)) throw new ClientError(`not a job id: ${id}`);
    const s = await jobStatus(await connect(program.opts<ChainOptions>(), false), BigInt(id));
    const at = (t: bigint) => (t === 0n ? "-" : `${new Date(Number(t) * 1000).toISOString()} (${t > s.now ? `in ${t - s.now} s` : `${s.now - t} s ago`})`);
    if (o.json) console.log(JSON.stringify(s, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    else
      console.log(
        [
          `job ${s.jobId}: ${s.status}`,
          `client ${s.client} · prover ${s.prover} · model ${s.modelId}`,
          `commit deadline     ${at(s.commitDeadline)}`,
          `challenge deadline  ${at(s.challengeDeadline)}${s.windowOpen ? " — window open" : ""}`,
          `tokens ${s.inputTokens} in + ${s.outputTokens} out · escrowed ${formatEther(s.escrowed)} · trace root ${s.traceRoot}`,
          `disputes: ${s.openDisputes} open; ${s.disputes.length === 0 ? "none so far" : s.disputes.map((d) => `${d.event}${d.proverAtFault === undefined ? "" : d.proverAtFault ? " (prover at fault)" : " (prover cleared)"} in block ${d.block}`).join(", ")}`,
        ].join("\n"),
      );
  });

program
  .command("voucher")
  .description("a published voucher's state (PROTOCOL §5.8 \"Publication\"); --claim-missed takes the penalty once its deadline has passed unanswered")
  .argument("<voucherHash>", "the voucher's EIP-712 hash (run --vouchers prints it)")
  .option("--claim-missed", "claim the missed-deadline penalty (credited in the registry; then `withdraw`)")
  .option("--json", "machine-readable output")
  .action(async (hash: string, o: { claimMissed?: boolean; json?: boolean }) => {
    if (!isHex(hash) || hash.length !== 66) throw new ClientError(`not a voucher hash: ${hash}`);
    const clients = await connect(program.opts<ChainOptions>(), o.claimMissed === true);
    const tx = o.claimMissed ? (await claimMissedPublication(clients, { voucherHash: hash })).hash : undefined;
    const pub = await readPublication(clients, { voucherHash: hash });
    const status = Object.entries(PublicationStatus).find(([, v]) => v === pub.status)?.[0] ?? String(pub.status);
    if (o.json) console.log(JSON.stringify({ voucherHash: hash, status, prover: pub.prover, client: pub.client, deadline: pub.deadline.toString(), declineDeadline: pub.declineDeadline.toString(), penalty: formatEther(pub.penalty), ...(tx ? { tx } : {}) }));
    else if (pub.status === PublicationStatus.None) console.log(`voucher ${hash} was never published`);
    else console.log(`voucher ${hash}: ${status} · prover ${pub.prover} · deadline ${pub.deadline} · penalty ${formatEther(pub.penalty)}${tx ? ` · penalty claimed (tx ${tx}); \`withdraw\` moves it to the wallet` : ""}`);
  });

program
  .command("withdraw")
  .description("move what the escrow and the registry owe this account (refunds of unused escrow, penalties paid to it) to its wallet")
  .action(async () => {
    const clients = await connect(program.opts<ChainOptions>(), true);
    const r = await withdrawCredits(clients);
    const total = r.fromEscrow + r.fromRegistry;
    console.log(total === 0n ? `nothing to withdraw for ${clients.walletClient!.account.address} (refunds are credited when a job is finalized)` : `withdrew ${formatEther(total)} to ${clients.walletClient!.account.address} (${formatEther(r.fromEscrow)} from the escrow, ${formatEther(r.fromRegistry)} from the registry)`);
  });

program
  .command("gateway")
  .description("serve an OpenAI-compatible API on this machine that pays stepproof provers per request and checks their commitments")
  .requiredOption("--model <id...>", "model id(s) (bytes32) to offer; requests name one as `model`")
  .option("--port <n>", "port", "8080")
  .option("--host <host>", "interface to listen on (keep it local: requests spend this account's tokens)", "127.0.0.1")
  .option("--max-per-request <tokens>", "refuse (402) a request that would escrow more than this many payment tokens")
  .option("--max-per-day <tokens>", "refuse (402) once the requests of one UTC day escrowed or spent this many payment tokens")
  .option("--default-max-tokens <n>", "max_tokens when a request gives none", "128")
  .option("--vouchers", "pay with signed vouchers against a deposit per prover, settled in batches (PROTOCOL §5.8), instead of a job per request")
  .option("--top-up <tokens>", "with --vouchers: deposit this much for a prover whenever its deposit cannot cover a request", "1")
  .action(async (o: { model: string[]; port: string; host: string; maxPerRequest?: string; maxPerDay?: string; defaultMaxTokens: string; vouchers?: boolean; topUp: string }) => {
    for (const m of o.model) if (!isHex(m) || m.length !== 66) throw new ClientError(`--model is not a bytes32 model id: ${m}`);
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ClientError(`--port must be 0..65535, got ${o.port}`);
    const tokens = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      try {
        return parseEther(v);
      } catch {
        throw new ClientError(`${flag} must be a token amount like 0.5, got ${v}`);
      }
    };
    const perRequest = tokens("--max-per-request", o.maxPerRequest);
    const perDay = tokens("--max-per-day", o.maxPerDay);
    const topUp = o.vouchers ? tokens("--top-up", o.topUp)! : undefined;
    if (topUp !== undefined && topUp <= 0n) throw new ClientError(`--top-up must be positive, got ${o.topUp}`);
    const clients = await connect(program.opts<ChainOptions>(), true);
    const g = await startGateway({ clients, models: o.model as Hex[], port, host: o.host, defaultMaxTokens: Number(o.defaultMaxTokens), limits: { ...(perRequest !== undefined ? { perRequest } : {}), ...(perDay !== undefined ? { perDay } : {}) }, ...(topUp !== undefined ? { vouchers: { topUp } } : {}) });
    console.log(`stepproof gateway at ${g.url}/v1 paying from ${clients.walletClient!.account.address}${topUp !== undefined ? " with vouchers (batched settlement)" : ""}; point any OpenAI client's base URL at it`);
    const stop = () => void g.close().then(() => process.exit(0));
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

addKeysCommand(program);

await runCli(() => program.parseAsync());
