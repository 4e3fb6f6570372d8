// LSP chaos: 10,000 random messages against the real server process (`tfm lsp --stdio`) over its
// stdio — valid requests (hover, definition, completion, symbols, inlay hints) at positions in and
// far out of range, on open, closed and unknown documents; requests with params of the wrong
// shape; unknown methods; didOpen / rapid didChange (full and incremental, random text, ranges
// past the end or reversed) / didClose; $/cancelRequest of requests in flight; malformed JSON in a
// good frame; and frames with a negative, missing, non-numeric, huge or too short Content-Length. The
// messages go in bursts; every request must get a response or an error within 2 s of being sent,
// and the server must never exit (it answers `shutdown` at the end and exits with 0 on `exit`).
// How many messages were sent and answered and the slowest answer are printed.
//
// The seed is printed; replay with TFM_LSP_CHAOS_SEED=<seed>, change the count with TFM_LSP_CHAOS_MESSAGES=<n>.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { pickSeed } from "../helpers/seed.js";
import { Chooser } from "../property/shapes-gen.js";
import { grammarProgram } from "../property/grammar-gen.js";
import { build, root } from "./client.js";

const MESSAGES = Number(process.env["TFM_LSP_CHAOS_MESSAGES"] || 10_000);
const ANSWER_WITHIN_MS = 2000;

const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** Reads LSP frames from the server's stdout as they arrive. */
class Frames {
  private buffer = Buffer.alloc(0);
  constructor(private readonly onMessage: (m: Record<string, unknown>) => void) {}
  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const m = /Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString("ascii"));
      if (!m) throw new Error(`the server wrote a frame without Content-Length: ${this.buffer.subarray(0, end).toString()}`);
      const total = end + 4 + Number(m[1]);
      if (this.buffer.length < total) return;
      this.onMessage(JSON.parse(this.buffer.subarray(end + 4, total).toString("utf8")) as Record<string, unknown>);
      this.buffer = this.buffer.subarray(total);
    }
  }
}

const models = readdirSync(resolve(root, "models")).filter((f) => f.endsWith(".tfm")).map((f) => readFileSync(resolve(root, "models", f), "utf8"));
const noise = ["", "\n", "(", "}", "model", "x = ", "\u0000", "\ud800", "é層", "#", "@", "output y = x\n", "input x: f32[B, T]\n", "\r\n", "[".repeat(200)];

describe("LSP chaos", () => {
  beforeAll(() => build());

  it(`answers every request within ${ANSWER_WITHIN_MS} ms and never stops, over ${MESSAGES} random messages (seed printed)`, { timeout: 300_000 }, async () => {
    const seed = pickSeed("TFM_LSP_CHAOS_SEED");
    console.log(`[lsp-chaos] seed=${seed} messages=${MESSAGES} (replay: TFM_LSP_CHAOS_SEED=${seed})`);
    const c = new Chooser(seed);
    const child = spawn(process.execPath, [resolve(root, "bin/tfm.js"), "lsp", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
    let exited: number | null | undefined;
    child.on("exit", (code) => (exited = code));

    const pending = new Map<number, { sent: number; method: string }>();
    const answered: { id: number; ms: number; method: string; error?: number }[] = [];
    const late: string[] = [];
    const errorSamples = new Map<number, string>();
    const frames = new Frames((m) => {
      if (typeof m.id !== "number" || !("result" in m || "error" in m)) return;
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      const ms = performance.now() - p.sent;
      const error = (m.error as { code?: number } | undefined)?.code;
      if (error !== undefined && !errorSamples.has(error)) errorSamples.set(error, `${p.method}: ${String((m.error as { message?: string }).message).slice(0, 160)}`);
      answered.push({ id: m.id, ms, method: p.method, ...(error !== undefined ? { error } : {}) });
      if (ms > ANSWER_WITHIN_MS) late.push(`${p.method} #${m.id} answered after ${ms.toFixed(0)} ms`);
    });
    child.stdout.on("data", (d: Buffer) => frames.push(d));

    let nextId = 1;
    const write = (s: string) => child.stdin.write(s);
    const send = (method: string, params: unknown) => {
      const id = nextId++;
      pending.set(id, { sent: performance.now(), method });
      write(frame(JSON.stringify({ jsonrpc: "2.0", id, method, params })));
      return id;
    };
    const notify = (method: string, params: unknown) => write(frame(JSON.stringify({ jsonrpc: "2.0", method, params })));
    /** Waits until no request is pending or the oldest has waited past the limit. */
    const drain = async () => {
      for (;;) {
        if (exited !== undefined) return;
        const oldest = Math.min(...[...pending.values()].map((p) => p.sent));
        if (!pending.size || performance.now() - oldest > ANSWER_WITHIN_MS + 500) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    send("initialize", { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { debounceMs: 5 } });
    notify("initialized", {});
    await drain();

    // Documents: uri → text and version, as the client believes them.
    const docs = new Map<string, { text: string; version: number }>();
    const uris = Array.from({ length: 6 }, (_, i) => `file:///chaos/doc${i}.tfm`);
    const pos = (uri?: string) => {
      const lines = docs.get(uri ?? "")?.text.split("\n").length ?? 1;
      const k = c.int(10);
      if (k < 6) return { line: c.int(lines), character: c.int(80) };
      return c.pick([{ line: -1, character: 0 }, { line: 0, character: -5 }, { line: 1e9, character: 1e9 }, { line: lines, character: 0 }, { line: 2 ** 31, character: 2 ** 31 }, { line: 0.5, character: 1.5 }, { line: "1", character: "2" }]);
    };
    const text = () => (c.chance(40) ? c.pick(models) : c.chance(50) ? grammarProgram(c.int(1e9)) : c.pick(noise));

    let sent = 0;
    const counts = new Map<string, number>();
    const kind = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
    const t0 = performance.now();
    while (sent < MESSAGES && exited === undefined) {
      const burst = c.range(1, 40);
      for (let b = 0; b < burst && sent < MESSAGES; b++, sent++) {
        const uri = c.chance(85) ? c.pick(uris) : c.pick(["file:///nowhere.tfm", "untitled:x", "", "not a uri", "file:///chaos/../../etc/passwd"]);
        const k = c.int(100);
        if (k < 10) {
          const t = text();
          docs.set(uri, { text: t, version: 1 });
          notify("textDocument/didOpen", { textDocument: { uri, languageId: "tfm", version: 1, text: t } });
          kind("didOpen");
        } else if (k < 30) {
          const d = docs.get(uri) ?? { text: "", version: 0 };
          d.version++;
          const full = c.chance(25);
          const ins = c.pick([...noise, "x", " ", "\n", text().slice(0, 200)]);
          if (full) d.text = text();
          const range = { start: pos(uri), end: pos(uri) };
          notify("textDocument/didChange", { textDocument: { uri, version: c.chance(90) ? d.version : c.pick([0, -1, d.version - 2]) }, contentChanges: full ? [{ text: d.text }] : [{ range, text: ins }] });
          kind("didChange");
        } else if (k < 33) {
          docs.delete(uri);
          notify("textDocument/didClose", { textDocument: { uri } });
          kind("didClose");
        } else if (k < 70) {
          const method = c.pick(["textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/documentSymbol", "textDocument/inlayHint"]);
          const params = method === "textDocument/documentSymbol" ? { textDocument: { uri } } : method === "textDocument/inlayHint" ? { textDocument: { uri }, range: { start: pos(uri), end: pos(uri) } } : { textDocument: { uri }, position: pos(uri) };
          send(method, params);
          kind("request");
        } else if (k < 76) {
          // Params of the wrong shape.
          send(c.pick(["textDocument/hover", "textDocument/completion", "textDocument/inlayHint", "textDocument/documentSymbol"]), c.pick([null, {}, [], 3, "x", { textDocument: 5 }, { textDocument: { uri: 7 }, position: null }, { textDocument: { uri }, position: { line: {} } }, { textDocument: { uri }, range: null }]));
          kind("bad params");
        } else if (k < 80) {
          send(c.pick(["tfm/unknown", "textDocument/formatting", "workspace/symbol", "$/unknownRequest", "textDocument/rename", ""]), {});
          kind("unknown method");
        } else if (k < 84) {
          notify(c.pick(["$/unknown", "workspace/didChangeConfiguration", "$/setTrace", "textDocument/didSave", "window/x"]), { settings: {}, value: "verbose", textDocument: { uri } });
          kind("unknown notification");
        } else if (k < 90) {
          // Cancel a request in flight (or one long answered, or never sent).
          const ids = [...pending.keys()];
          notify("$/cancelRequest", { id: ids.length && c.chance(80) ? c.pick(ids) : c.pick([0, -1, nextId + 100, "x"]) });
          kind("cancel");
        } else if (k < 95) {
          // Malformed JSON in a well-formed frame (the library answers a parse error with id null).
          write(frame(c.pick(["{", "{garbage}", '{"jsonrpc":"2.0","id":', "[]", "null", '{"jsonrpc":"2.0","id":1e999,"method":"textDocument/hover"}', '{"jsonrpc":"1.0"}', "\u0000", '{"jsonrpc":"2.0","method":5}'])));
          kind("malformed JSON");
        } else {
          // A broken frame: the guard drops it and resynchronises on the next Content-Length.
          write(c.pick(["Content-Length: -5\r\n\r\n{}", "Content-Length: 99999999999\r\n\r\n{}", "Content-Type: x\r\n\r\n{}", "Content-Length: 1e3\r\n\r\n{}", "Content-Length: abc\r\n\r\n", "Content-Length: 70000000\r\n\r\n{}", "\r\n\r\n", `Content-Length: ${c.range(1, 30)}\r\n\r\n${JSON.stringify({ jsonrpc: "2.0", id: -7, method: "textDocument/hover", params: { textDocument: { uri }, position: { line: 0, character: 0 } } })}`]));
          kind("bad frame");
        }
      }
      await drain();
    }
    const seconds = (performance.now() - t0) / 1000;
    // The end of the session: still alive, answers shutdown, exits with 0.
    const last = send("shutdown", null);
    await drain();
    const shutdownAnswered = answered.some((a) => a.id === last);
    notify("exit", null);
    const code = await new Promise<number | null>((res) => (exited !== undefined ? res(exited) : child.on("exit", (c) => res(c))));

    const slowestOf = (xs: typeof answered) => xs.reduce((a, b) => (b.ms > a.ms ? b : a), { id: 0, ms: 0, method: "none" });
    const slowest = slowestOf(answered);
    const slowestAfterStart = slowestOf(answered.filter((a) => a.method !== "initialize"));
    const errors = new Map<string, number>();
    for (const a of answered) if (a.error !== undefined) errors.set(String(a.error), (errors.get(String(a.error)) ?? 0) + 1);
    console.log(`[lsp-chaos] ${sent} messages sent in ${seconds.toFixed(1)} s (${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}); ${nextId - 1} requests, ${answered.length} answered (errors by code: ${[...errors].map(([k, n]) => `${k} ×${n}`).join(", ") || "none"}); slowest answer ${slowest.ms.toFixed(1)} ms (${slowest.method}), after initialize ${slowestAfterStart.ms.toFixed(1)} ms (${slowestAfterStart.method}); the server survived all ${sent} and exited with ${code}`);
    console.log(`[lsp-chaos] an error of each code: ${[...errorSamples].map(([k, m]) => `${k} ${m}`).join(" | ")}`);

    expect(pending.size === 0 ? [] : [...pending].map(([id, p]) => `${p.method} #${id} never answered`).slice(0, 10), stderr.slice(-3000)).toEqual([]);
    expect(late).toEqual([]);
    expect(shutdownAnswered).toBe(true);
    expect(code).toBe(0);
    expect(sent).toBe(MESSAGES);
  });
});
