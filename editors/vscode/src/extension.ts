// The VS Code extension: starts `tfm lsp` (from the setting tfm.serverPath, the workspace's
// node_modules, or the PATH) and connects it to .tfm documents through vscode-languageclient.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

/** Where `tfm` is: the setting, else the workspace's node_modules (or tfm's own checkout), else the PATH. */
function findServer(): { script?: string; command?: string } {
  const configured = vscode.workspace.getConfiguration("tfm").get<string>("serverPath")?.trim();
  if (configured) {
    const p = configured.startsWith("~") ? path.join(os.homedir(), configured.slice(1)) : configured;
    return p.endsWith(".js") ? { script: p } : { command: p };
  }
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const root = folder.uri.fsPath;
    const installed = path.join(root, "node_modules", "tfm", "bin", "tfm.js");
    if (fs.existsSync(installed)) return { script: installed };
    const own = path.join(root, "bin", "tfm.js");
    if (fs.existsSync(own) && readName(path.join(root, "package.json")) === "tfm") return { script: own };
  }
  return { command: "tfm" };
}

function readName(packageJson: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(packageJson, "utf8")) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

function serverOptions(): ServerOptions {
  const found = findServer();
  // The client appends --stdio (and --clientProcessId); `tfm lsp` accepts both.
  if (found.script) return { module: found.script, args: ["lsp"], transport: TransportKind.stdio };
  return { command: found.command ?? "tfm", args: ["lsp"], transport: TransportKind.stdio, options: { shell: process.platform === "win32" } };
}

async function start(): Promise<void> {
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "tfm" },
      { scheme: "untitled", language: "tfm" },
    ],
    ...(output ? { outputChannel: output } : {}),
  };
  client = new LanguageClient("tfm", "tfm language server", serverOptions(), clientOptions);
  try {
    await client.start();
  } catch (e) {
    void vscode.window.showErrorMessage(`tfm: cannot start the language server (${e instanceof Error ? e.message : String(e)}). Install tfm in the workspace, or set tfm.serverPath.`);
  }
}

async function restart(): Promise<void> {
  const old = client;
  client = undefined;
  if (old) await old.stop().catch(() => undefined);
  await start();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("tfm");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("tfm.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("tfm.serverPath")) void restart();
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  if (client) await client.stop();
  client = undefined;
}
