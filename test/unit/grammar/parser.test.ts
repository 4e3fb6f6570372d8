// The grammar passes chevrotain's own validations (no ambiguity, no left recursion; token
// patterns that can match, none hidden by another), which the shared parser and lexer skip at
// startup (grammar/parser.ts, grammar/tokens.ts), and loads the single-file chevrotain build.
import { describe, expect, it } from "vitest";
import { Lexer } from "../../../grammar/chevrotain.js";
import { TfmParser } from "../../../grammar/parser.js";
import { allTokens } from "../../../grammar/tokens.js";

describe("the grammar", () => {
  it("passes chevrotain's grammar validations", () => {
    expect(() => new TfmParser({ validate: true })).not.toThrow();
  });

  it("passes chevrotain's lexer validations", () => {
    const lexer = new Lexer(allTokens, { positionTracking: "full", recoveryEnabled: true, skipValidations: false, deferDefinitionErrorsHandling: true });
    expect(lexer.lexerDefinitionErrors).toEqual([]);
  });
});
