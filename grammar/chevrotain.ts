// chevrotain, loaded from its single-file build. Its package entry (lib/src/api.js) imports
// lodash-es as some 650 modules, which costs about a second of every `tfm` command's startup; the
// same package ships that code bundled as one file (lib/chevrotain.mjs), which loads in a fifth
// of the time. The package's `exports` does not name that file, so it is found beside the entry.
// Every runtime import of chevrotain goes through here, so one copy of it is loaded.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Chevrotain from "chevrotain";

function singleFile(): string | undefined {
  try {
    const file = join(dirname(createRequire(import.meta.url).resolve("chevrotain")), "..", "chevrotain.mjs");
    return existsSync(file) ? pathToFileURL(file).href : undefined;
  } catch {
    return undefined;
  }
}

const chevrotain: typeof Chevrotain = await import(singleFile() ?? "chevrotain");

export const { createToken, Lexer, CstParser, tokenMatcher, createSyntaxDiagramsCode } = chevrotain;
