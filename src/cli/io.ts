// Reading source files for the CLI: bytes → text, with invalid UTF-8 reported, not mangled.
import { diag, type Diagnostic } from "../diag/diagnostic.js";
import { readBounded } from "../runtime/files.js";
import { limits } from "../syntax/limits.js";
import { WeightFileError } from "../weights/errors.js";

export class UsageError extends Error {}

/**
 * Reads a source file within the language's size limit (TFM1010) without reading past it: a
 * regular file's size comes from `stat`; a pipe or device is read only up to the limit.
 */
export function readSource(path: string): { text: string; decodeErrors: Diagnostic[] } {
  let r: ReturnType<typeof readBounded>;
  try {
    r = readBounded(path, limits.maxFileBytes);
  } catch (e) {
    const m = e instanceof WeightFileError ? e.message.replace(/^cannot (open|read) [^]*?: /, "") : (e as Error).message;
    throw new UsageError(`cannot read ${path}: ${m === "no such file or directory" ? "no such file" : m}`);
  }
  if ("tooLarge" in r) {
    const size = r.exact ? `${r.tooLarge} bytes long` : `more than ${limits.maxFileBytes} bytes long`;
    return { text: "", decodeErrors: [diag(path, "TFM1010", { start: 0, end: 0 }, `file is ${size}; the limit is ${limits.maxFileBytes} bytes`)] };
  }
  const bytes = r.bytes;
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

/** `--threads N`: a whole number from 1 to 1024 (undefined when not given: the default, the cores). */
export function parseThreads(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1 || n > 1024) throw new UsageError(`--threads takes a whole number from 1 to 1024, got ${JSON.stringify(v)}`);
  return n;
}
