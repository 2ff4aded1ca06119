import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { renderAbiModule } from "../../scripts/export-abis.js";

describe("protocol/chain/generated/abi.ts", () => {
  it("matches the compiled contracts (run `npm run build` after changing a contract)", async () => {
    const committed = await readFile("protocol/chain/generated/abi.ts", "utf8");
    expect(committed).toBe(await renderAbiModule());
  });
});
