/**
 * npm run generate -- --model DIR --prompt TEXT [--max-tokens N] [--temperature T --seed S] [--stop S…] [--json]
 *
 * Local generation with a model package, no chain: the prompt is tokenized with the package's
 * own tokenizer (its files checked against the manifest), generated on the reference setup
 * (cpu, 1 thread, fp32 graphs) and the text printed as it streams — the continuation an
 * operator should see before staking on a model. --json prints the ids and the text instead.
 */
import { Command } from "commander";
import { generate } from "../runtime/generate.js";
import { loadPackageTokenizer } from "../runtime/model/tokenizer-files.js";
import { encodeSamplingParams } from "../runtime/sampling.js";
import { releaseAllSessions } from "../runtime/session.js";
import { completionPromptTokens } from "../protocol/prompt/prompt.js";
import { OutputText, validateStop } from "../protocol/prompt/output-text.js";
import { StepproofError } from "../protocol/errors.js";

const opts = new Command()
  .requiredOption("--model <dir>", "model package directory")
  .requiredOption("--prompt <text>", "prompt text")
  .option("--max-tokens <n>", "tokens to generate", "48")
  .option("--temperature <t>", "0 = greedy (default); > 0 samples by the protocol's Gumbel-max rule", "0")
  .option("--seed <n>", "sampling seed", "0")
  .option("--stop <s...>", "stop strings (up to 4)")
  .option("--json", "print prompt ids, output ids and text as JSON", false)
  .parse()
  .opts<{ model: string; prompt: string; maxTokens: string; temperature: string; seed: string; stop?: string[]; json: boolean }>();

try {
  const tokenizer = await loadPackageTokenizer(opts.model);
  const promptTokens = completionPromptTokens(tokenizer, opts.prompt);
  const stop = validateStop(opts.stop);
  const temperature = Number(opts.temperature);
  const samplingParams = temperature > 0 ? encodeSamplingParams({ temperature, seed: BigInt(opts.seed) }) : 0n;
  const text = new OutputText(tokenizer, promptTokens, stop);
  let out = "";
  if (!opts.json) process.stdout.write(opts.prompt);
  const r = await generate({
    modelDir: opts.model,
    promptTokens,
    maxNewTokens: Number(opts.maxTokens),
    samplingParams,
    trace: false,
    onToken: (id) => {
      const piece = text.push(id);
      out += piece;
      if (!opts.json) process.stdout.write(piece);
      return text.stopped;
    },
  });
  const tail = text.finish();
  out += tail;
  if (opts.json) console.log(JSON.stringify({ prompt: opts.prompt, prompt_ids: promptTokens, output_ids: r.outputTokens, text: out }));
  else console.log(`${tail}\n\n[${promptTokens.length} prompt + ${r.outputTokens.length} generated tokens, ${(r.outputTokens.length / (r.timings.totalMs / 1000)).toFixed(1)} tok/s]`);
} catch (err) {
  console.error(`generate failed: ${err instanceof StepproofError ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await releaseAllSessions();
}
