// The open documents (kept in sync incrementally) and the latest CheckResult of each, re-checked
// on demand whenever the text has moved on; also the mapping between URIs, files and positions.
import { isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TextDocuments, type Location, type Position, type Range } from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import { compile, type CheckResult } from "../index.js";
import { LineMap, type Span } from "../diag/span.js";

/** One document as checked: the exact text, the version it had, and what `check` made of it. */
export interface Checked {
  readonly uri: string;
  readonly version: number;
  /** The file name the compiler saw (a path for file: URIs, the URI itself otherwise). */
  readonly file: string;
  readonly text: string;
  readonly result: CheckResult;
  readonly lines: LineMap;
}

export class Store {
  readonly documents = new TextDocuments(TextDocument);
  private readonly cache = new Map<string, Checked>();

  /** The document's latest check, running `check` first if the text changed since the last one. */
  checked(uri: string): Checked | undefined {
    const doc = this.documents.get(uri);
    if (!doc) return undefined;
    const text = doc.getText();
    const hit = this.cache.get(uri);
    if (hit && hit.version === doc.version && hit.text === text) return hit;
    const file = fileOfUri(uri);
    const c: Checked = { uri, version: doc.version, file, text, result: compile(text, { file }).checked, lines: new LineMap(text) };
    this.cache.set(uri, c);
    return c;
  }

  forget(uri: string): void {
    this.cache.delete(uri);
  }
}

export function fileOfUri(uri: string): string {
  if (!uri.startsWith("file:")) return uri;
  try {
    return fileURLToPath(uri);
  } catch {
    return uri; // e.g. a UNC host on a POSIX system: the URI still names the document
  }
}

/** The URI of a file a span points into: the document itself, or (the stdlib) a file: URI. */
export function uriOfFile(c: Checked, file: string): string {
  if (file === c.file) return c.uri;
  return isAbsolute(file) ? pathToFileURL(file).href : file;
}

const otherMaps = new Map<string, LineMap>();
function lineMapOf(c: Checked, file: string): LineMap | undefined {
  if (file === c.file) return c.lines;
  const text = c.result.sources.get(file);
  if (text === undefined) return undefined;
  let m = otherMaps.get(file);
  if (!m || m.text !== text) otherMaps.set(file, (m = new LineMap(text)));
  return m;
}

/** LSP positions are 0-based lines and UTF-16 columns; spans are UTF-16 offsets, so no re-encoding. */
export function positionOf(lines: LineMap, offset: number): Position {
  const p = lines.position(offset);
  return { line: p.line - 1, character: p.column - 1 };
}

export function rangeOf(c: Checked, span: Span, file: string = c.file): Range {
  const m = lineMapOf(c, file) ?? c.lines;
  return { start: positionOf(m, span.start), end: positionOf(m, Math.max(span.start, span.end)) };
}

export function locationOf(c: Checked, file: string, span: Span): Location {
  return { uri: uriOfFile(c, file), range: rangeOf(c, span, file) };
}

/** The offset of an LSP position in the checked text, clamped as the spec asks (past a line's end = its end). */
export function offsetOf(c: Checked, pos: Position): number {
  const finite = (n: unknown) => (typeof n === "number" && Number.isFinite(n) ? Math.floor(n) : 0);
  const line = Math.max(0, Math.min(finite(pos?.line), c.lines.lineCount - 1)) + 1;
  const start = c.lines.offset(line, 1);
  return start + Math.max(0, Math.min(finite(pos?.character), c.lines.lineText(line).length));
}
