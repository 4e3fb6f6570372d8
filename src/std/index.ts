// The standard library: .tfm files in this folder, parsed once and shared by every compilation.
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Program } from "../syntax/ast.js";
import { parse } from "../syntax/parse.js";
import type { Diagnostic } from "../diag/diagnostic.js";

export interface SourceFile {
  readonly file: string;
  readonly text: string;
  readonly program: Program;
  readonly diagnostics: readonly Diagnostic[];
}

/** The folder holding the .tfm sources: src/std from both src/ (tests) and dist/src/ (built). */
function stdDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(resolve(here, "..", "..")) === "dist" ? join(here, "..", "..", "..", "src", "std") : here;
}

let cached: readonly SourceFile[] | undefined;

export function prelude(): readonly SourceFile[] {
  if (!cached) {
    const dir = stdDir();
    cached = readdirSync(dir)
      .filter((f) => f.endsWith(".tfm"))
      .sort()
      .map((f) => {
        const file = join(dir, f);
        const text = readFileSync(file, "utf8");
        const { program, diagnostics } = parse(text, file);
        return { file, text, program, diagnostics };
      });
  }
  return cached;
}
