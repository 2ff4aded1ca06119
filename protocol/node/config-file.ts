import { readFile } from "node:fs/promises";
import type { z } from "zod";
import type { StepproofError } from "../errors.js";

type MakeError = (shortMessage: string, options: { details?: string; cause?: unknown }) => StepproofError;

/** Validate a node config once, at the edge, naming every offending field (no partial configs). */
export function validateConfig<S extends z.ZodType>(schema: S, input: unknown, what: string, makeError: MakeError): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw makeError(`invalid ${what}`, { details: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "), cause: parsed.error });
  }
  return parsed.data;
}

/** Read a JSON config file; a missing file and malformed JSON are told apart. */
export async function readJsonConfig(file: string, makeError: MakeError): Promise<unknown> {
  let raw: string;
  try {
    raw = await readFile(file, "utf8");
  } catch (cause) {
    throw makeError(`cannot read config file ${file}`, { cause });
  }
  try {
    return JSON.parse(raw);
  } catch (cause) {
    throw makeError(`config file ${file} is not valid JSON`, { cause });
  }
}
