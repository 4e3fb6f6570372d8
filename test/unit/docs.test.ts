// Generated documentation stays in step with its sources (`npm run gen` regenerates it).
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { diagnosticsDoc } from "../../scripts/diagnostics-doc.js";

it("docs/DIAGNOSTICS.md matches the catalogue and test/errors", () => {
  expect(readFileSync("docs/DIAGNOSTICS.md", "utf8"), "run `npm run gen`").toBe(diagnosticsDoc());
});
