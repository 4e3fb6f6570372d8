// Reading source files for the CLI: bytes → text, with invalid UTF-8 reported, not mangled.
import { readFileSync } from "node:fs";
import { diag, type Diagnostic } from "../diag/diagnostic.js";

export class UsageError extends Error {}

export function readSource(path: string): { text: string; decodeErrors: Diagnostic[] } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message}`);
  }
  const text = new TextDecoder("utf-8").decode(bytes);
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return { text, decodeErrors: [] };
  } catch {
    const at = Math.max(0, text.indexOf("\uFFFD"));
    return { text, decodeErrors: [diag(path, "TFM1013", { start: at, end: at + 1 }, "the file is not valid UTF-8 text (the first bad byte is here)")] };
  }
}

/** `--set name=value`, repeatable. */
export function collectSetting(value: string, previous: Map<string, string> | undefined): Map<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new UsageError(`--set expects name=value, got \`${value}\``);
  return new Map(previous ?? []).set(value.slice(0, eq).trim(), value.slice(eq + 1));
}
