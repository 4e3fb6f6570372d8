// A language-server client for the tests: spawns the built `tfm lsp`, speaks LSP over its stdio,
// and collects published diagnostics and log messages; `<|>` markers place cursors in documents.
import { fork, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  CompletionRequest,
  createProtocolConnection,
  DefinitionRequest,
  DidChangeTextDocumentNotification,
  DidCloseTextDocumentNotification,
  DidOpenTextDocumentNotification,
  DocumentSymbolRequest,
  ExitNotification,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  InlayHintRequest,
  LogMessageNotification,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  type CompletionItem,
  type CompletionList,
  type Definition,
  type Diagnostic,
  type DocumentSymbol,
  type Hover,
  type InlayHint,
  type LocationLink,
  type Position,
  type ProtocolConnection,
  type Range,
  type SymbolInformation,
  type TextDocumentContentChangeEvent,
} from "vscode-languageserver-protocol/node.js";

export const root = resolve(import.meta.dirname, "..", "..");

/** Builds dist/ (as `npm install` does); a type error elsewhere in the tree still emits, so only a missing output fails. */
export function build(): void {
  const r = spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (!existsSync(resolve(root, "dist/src/lsp/server.js"))) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

/** Text with `<|>` markers removed, and the position of each marker. */
export function marked(source: string): { text: string; at: Position[] } {
  const at: Position[] = [];
  let text = "";
  const parts = source.split("<|>");
  parts.forEach((p, i) => {
    text += p;
    if (i < parts.length - 1) {
      const lines = text.split("\n");
      at.push({ line: lines.length - 1, character: lines[lines.length - 1]!.length });
    }
  });
  return { text, at };
}

export class Client {
  readonly logs: string[] = [];
  private readonly published = new Map<string, { version?: number; diagnostics: Diagnostic[] }>();
  private readonly waiters: { uri: string; version: number | undefined; resolve: (d: Diagnostic[]) => void }[] = [];
  exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly conn: ProtocolConnection) {
    this.exited = new Promise((res) => child.on("exit", (code) => res(code)));
    conn.onNotification(LogMessageNotification.type, (m) => void this.logs.push(m.message));
    conn.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.published.set(p.uri, { ...(p.version !== undefined ? { version: p.version } : {}), diagnostics: p.diagnostics });
      for (const w of [...this.waiters]) {
        if (w.uri === p.uri && (w.version === undefined || w.version === p.version)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(p.diagnostics);
        }
      }
    });
  }

  /** Starts `node bin/tfm.js lsp --stdio`, or (`fork`) the way vscode-languageclient starts a Node module server. */
  static async start(opts: { env?: Record<string, string>; initializationOptions?: object; fork?: boolean } = {}): Promise<Client> {
    const env = { ...process.env, ...opts.env };
    const bin = resolve(root, "bin/tfm.js");
    const child = opts.fork
      ? fork(bin, ["lsp", "--stdio", `--clientProcessId=${process.pid}`], { cwd: root, env, execArgv: [], silent: true })
      : spawn(process.execPath, [bin, "lsp", "--stdio"], { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
    child.stderr!.on("data", (d) => process.stderr.write(`[tfm lsp stderr] ${d}`));
    const conn = createProtocolConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    conn.listen();
    const client = new Client(child, conn);
    await conn.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { debounceMs: 5, ...opts.initializationOptions } });
    await conn.sendNotification(InitializedNotification.type, {});
    return client;
  }

  /** The diagnostics of `uri` at `version` (the latest publish if no version is given and one came). */
  diagnostics(uri: string, version?: number): Promise<Diagnostic[]> {
    const last = this.published.get(uri);
    if (last && (version === undefined || last.version === version)) return Promise.resolve(last.diagnostics);
    return new Promise((resolve) => this.waiters.push({ uri, version, resolve }));
  }

  forget(uri: string): void {
    this.published.delete(uri);
  }

  async open(uri: string, text: string, version = 1): Promise<void> {
    this.published.delete(uri);
    await this.conn.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: "tfm", version, text } });
  }

  async change(uri: string, version: number, contentChanges: TextDocumentContentChangeEvent[]): Promise<void> {
    await this.conn.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version }, contentChanges });
  }

  async close(uri: string): Promise<void> {
    await this.conn.sendNotification(DidCloseTextDocumentNotification.type, { textDocument: { uri } });
  }

  hover(uri: string, position: Position): Promise<Hover | null> {
    return this.conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position });
  }

  definition(uri: string, position: Position): Promise<Definition | LocationLink[] | null> {
    return this.conn.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position });
  }

  async completion(uri: string, position: Position): Promise<CompletionItem[]> {
    const r: CompletionList | CompletionItem[] | null = await this.conn.sendRequest(CompletionRequest.type, { textDocument: { uri }, position });
    return Array.isArray(r) ? r : r?.items ?? [];
  }

  symbols(uri: string): Promise<DocumentSymbol[] | SymbolInformation[] | null> {
    return this.conn.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri } });
  }

  inlayHints(uri: string, range: Range): Promise<InlayHint[] | null> {
    return this.conn.sendRequest(InlayHintRequest.type, { textDocument: { uri }, range });
  }

  /** `shutdown` then `exit`, as an editor ends a session; resolves to the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    await this.conn.sendRequest(ShutdownRequest.type);
    await this.conn.sendNotification(ExitNotification.type);
    const code = await this.exited;
    this.conn.dispose();
    return code;
  }
}
