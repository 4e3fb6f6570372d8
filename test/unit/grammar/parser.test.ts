// The grammar passes chevrotain's own validations (no ambiguity, no left recursion), which the
// shared parser skips at startup (grammar/parser.ts), and loads the single-file chevrotain build.
import { describe, expect, it } from "vitest";
import { TfmParser } from "../../../grammar/parser.js";

describe("the grammar", () => {
  it("passes chevrotain's grammar validations", () => {
    expect(() => new TfmParser({ validate: true })).not.toThrow();
  });
});
