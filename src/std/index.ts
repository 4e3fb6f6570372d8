// The standard library: .tfm files in this folder, parsed once and shared by every compilation.
//
// Parsing them is a quarter of a small `tfm check` (about 60 ms), so `npm run build` also writes
// their syntax trees to dist/src/std/prelude.json (scripts/std-cache.mjs). The cache is used only
// when each file's text is the one it was made from and the parser that made it is the one
// loaded (a fingerprint of the parser's modules); otherwise the files are parsed as before.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
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

const here = dirname(fileURLToPath(import.meta.url));
const cacheFile = join(here, "prelude.json");

/** The folder holding the .tfm sources: src/std from both src/ (tests) and dist/src/ (built). */
function stdDir(): string {
  return basename(resolve(here, "..", "..")) === "dist" ? join(here, "..", "..", "..", "src", "std") : here;
}

export interface Cache {
  readonly parser: string;
  readonly files: readonly { readonly name: string; readonly text: string; readonly program: Program }[];
}

/** The modules whose code decides what a parse gives, as built beside this one. */
const parserModules = ["../syntax/parse.js", "../syntax/habits.js", "../syntax/tokenize.js", "../syntax/limits.js", "../../grammar/parser.js", "../../grammar/tokens.js"];

function parserFingerprint(): string {
  const h = createHash("sha256");
  for (const m of parserModules) h.update(readFileSync(join(here, m)));
  return h.digest("hex");
}

/** The cache in `file`, if it is readable and was made by the parser loaded now. */
export function readCache(file: string, parser: () => string = parserFingerprint): Cache | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const cache = JSON.parse(readFileSync(file, "utf8")) as Cache;
    return cache.parser === parser() ? cache : undefined;
  } catch {
    return undefined; // unreadable: parse instead
  }
}

/** The .tfm files of `dir`, by name, each from the cache when its text is the cached one. */
export function loadSources(dir: string, cache: Cache | undefined): SourceFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".tfm"))
    .sort()
    .map((name) => {
      const file = join(dir, name);
      const text = readFileSync(file, "utf8");
      const hit = cache?.files.find((c) => c.name === name && c.text === text);
      if (hit) return { file, text, program: hit.program, diagnostics: [] };
      const { program, diagnostics } = parse(text, file);
      return { file, text, program, diagnostics };
    });
}

/** The cache of `dir`'s files as parsed now; files with syntax errors are left out. */
export function makeCache(dir: string, parser: () => string = parserFingerprint): Cache {
  const files = loadSources(dir, undefined).flatMap((s) => (s.diagnostics.length ? [] : [{ name: basename(s.file), text: s.text, program: s.program }]));
  return { parser: parser(), files };
}

let cached: readonly SourceFile[] | undefined;

export function prelude(): readonly SourceFile[] {
  return (cached ??= loadSources(stdDir(), readCache(cacheFile)));
}

/** Writes the cache for the built modules (run by `npm run build`). */
export function writePreludeCache(): string {
  writeFileSync(cacheFile, JSON.stringify(makeCache(stdDir())));
  return cacheFile;
}
