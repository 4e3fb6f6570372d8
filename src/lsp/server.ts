// The language server (`tfm lsp`): wires an LSP connection over stdio to the feature modules of
// this folder, publishes diagnostics as documents change, and keeps running when a feature fails.
import { format } from "node:util";
import {
  createConnection,
  ProposedFeatures,
  TextDocumentSyncKind,
  type Connection,
  type Diagnostic,
  type InitializeResult,
  type TextDocumentIdentifier,
} from "vscode-languageserver/node.js";
import { completion } from "./completion.js";
import { definition } from "./definition.js";
import { diagnostics, internalError } from "./diagnostics.js";
import { Store, type Checked } from "./documents.js";
import { FramingGuard } from "./framing.js";
import { hover } from "./hover.js";
import { inlayHints } from "./inlay.js";
import { documentSymbols } from "./symbols.js";

/** Options an editor may pass as `initializationOptions`. */
export interface InitOptions {
  /** Delay between the last keystroke and re-checking for diagnostics (ms, default 100). */
  readonly debounceMs?: number;
}

/**
 * For tests of the server's resilience only: `TFM_LSP_FAULTS=hover,diagnostics` makes those
 * features throw, as a bug in them would.
 */
const injected = new Set((process.env.TFM_LSP_FAULTS ?? "").split(",").filter(Boolean));
const fault = (feature: string) => {
  if (injected.has(feature)) throw new Error(`fault injected into ${feature} (TFM_LSP_FAULTS)`);
};

export function startServer(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Connection {
  // Malformed frames are dropped before the protocol library sees them (it would stop reading).
  const guarded = input.pipe(new FramingGuard((m) => process.stderr.write(`${m}\n`)));
  const connection = createConnection(ProposedFeatures.all, guarded, output);
  // stdout carries the protocol: anything printed goes to the client's log instead.
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    console[level] = (...args: unknown[]) => connection.console[level === "debug" ? "log" : level](format(...args));
  }
  let options: InitOptions = {};
  const store = new Store();
  const timers = new Map<string, NodeJS.Timeout>();
  /** Internal errors of the current version of each document, by feature. */
  const faults = new Map<string, { version: number; items: Map<string, Diagnostic> }>();
  let shutDown = false;

  const log = (feature: string, uri: string | undefined, e: unknown) =>
    connection.console.error(`tfm lsp: ${feature} failed${uri ? ` on ${uri}` : ""}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);

  const publish = (uri: string) => {
    const doc = store.documents.get(uri);
    if (!doc || shutDown) return;
    let ds: Diagnostic[];
    try {
      fault("diagnostics");
      ds = diagnostics(store.checked(uri)!);
    } catch (e) {
      log("diagnostics", uri, e);
      ds = [internalError("diagnostics", e)];
    }
    const f = faults.get(uri);
    if (f?.version === doc.version) ds.push(...f.items.values());
    void connection.sendDiagnostics({ uri, version: doc.version, diagnostics: ds });
  };

  const schedule = (uri: string) => {
    clearTimeout(timers.get(uri));
    timers.set(uri, setTimeout(() => {
      timers.delete(uri);
      publish(uri);
    }, options.debounceMs ?? 100));
  };

  /** Runs a request on a document's latest check; a failure is logged, shown on the file, and answered with null. */
  const request = <P extends { textDocument: TextDocumentIdentifier }, R>(feature: string, f: (c: Checked, p: P) => R) => (p: P): R | null => {
    const uri = p?.textDocument?.uri;
    try {
      fault(feature);
      const c = typeof uri === "string" ? store.checked(uri) : undefined;
      return c ? f(c, p) : null;
    } catch (e) {
      log(feature, uri, e);
      const doc = typeof uri === "string" ? store.documents.get(uri) : undefined;
      if (doc) {
        const f = faults.get(doc.uri);
        const items = f?.version === doc.version ? f.items : new Map<string, Diagnostic>();
        items.set(feature, internalError(feature, e));
        faults.set(doc.uri, { version: doc.version, items });
        publish(doc.uri);
      }
      return null;
    }
  };

  connection.onInitialize((params): InitializeResult => {
    const given = params.initializationOptions as InitOptions | undefined;
    if (given && typeof given === "object") options = given;
    return {
      capabilities: {
        textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
        hoverProvider: true,
        definitionProvider: true,
        completionProvider: { triggerCharacters: ["(", ",", "."] },
        documentSymbolProvider: true,
        inlayHintProvider: true,
      },
      serverInfo: { name: "tfm", version: "0.1.0" },
    };
  });

  store.documents.onDidChangeContent((e) => schedule(e.document.uri));
  store.documents.onDidClose((e) => {
    const uri = e.document.uri;
    clearTimeout(timers.get(uri));
    timers.delete(uri);
    store.forget(uri);
    faults.delete(uri);
    if (!shutDown) void connection.sendDiagnostics({ uri, diagnostics: [] });
  });

  connection.onHover(request("hover", (c, p) => hover(c, p.position)));
  connection.onDefinition(request("definition", (c, p) => definition(c, p.position)));
  connection.onCompletion(request("completion", (c, p) => completion(c, p.position)));
  connection.onDocumentSymbol(request("symbols", (c) => documentSymbols(c)));
  connection.languages.inlayHint.on(request("inlayHints", (c, p) => inlayHints(c, p.range)));

  connection.onShutdown(() => {
    shutDown = true;
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  });
  // `exit` ends the process (code 0 after `shutdown`, 1 without), as the protocol asks.

  store.documents.listen(connection);
  connection.listen();
  return connection;
}
