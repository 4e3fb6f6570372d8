// The server's wire: malformed frames (a negative, missing or absurd Content-Length, a header
// that never ends) are dropped and the server keeps answering; `initialize` without
// `capabilities` is answered as a client with none.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FramingGuard } from "../../src/lsp/framing.js";
import { build, root } from "./client.js";

const frame = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const request = (id: number, method: string, params: object) => JSON.stringify({ jsonrpc: "2.0", id, method, params });

function through(chunks: string[]): { out: string; warnings: string[] } {
  const warnings: string[] = [];
  const g = new FramingGuard((m) => warnings.push(m));
  let out = "";
  g.on("data", (d: Buffer) => (out += d.toString("utf8")));
  for (const c of chunks) g.write(Buffer.from(c, "utf8"));
  return { out, warnings };
}

describe("FramingGuard", () => {
  it("passes well-formed frames through unchanged, split anywhere", () => {
    const a = frame(request(1, "shutdown", {}));
    const b = frame('{"jsonrpc":"2.0","method":"x","params":{"s":"é層"}}');
    const text = a + b;
    for (const cut of [1, 10, a.length - 1, a.length + 3]) expect(through([text.slice(0, cut), text.slice(cut)])).toEqual({ out: text, warnings: [] });
  });

  it("drops a frame with a negative, missing or absurd length and resynchronises on the next", () => {
    const good = frame(request(2, "shutdown", {}));
    for (const bad of ["Content-Length: -5\r\n\r\n{}", "Content-Type: x\r\n\r\n{}", "Content-Length: 99999999999\r\n\r\n{}", "Content-Length: 1e3\r\n\r\n{}"]) {
      const r = through([bad + good]);
      expect(r.out).toBe(good);
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toMatch(/^tfm lsp: dropped a malformed message/);
    }
  });

  it("keeps the frame that follows one whose Content-Length was too short", () => {
    const good = frame(request(3, "shutdown", {}));
    const body = request(9, "textDocument/hover", {});
    const r = through([`Content-Length: 3\r\n\r\n${body}${good}`]);
    // The short frame passes as it says (3 bytes, a parse error for the library); its tail is dropped; the next frame arrives whole.
    expect(r.out).toBe(`Content-Length: 3\r\n\r\n${body.slice(0, 3)}${good}`);
    expect(r.warnings).toHaveLength(1);
  });

  it("gives `initialize` without `capabilities` an empty set of them", () => {
    const r = through([frame(request(1, "initialize", { processId: null }))]);
    const body = JSON.parse(r.out.slice(r.out.indexOf("\r\n\r\n") + 4));
    expect(body.params).toEqual({ processId: null, capabilities: {} });
    expect(r.out.startsWith(`Content-Length: ${Buffer.byteLength(r.out.slice(r.out.indexOf("\r\n\r\n") + 4))}\r\n`)).toBe(true);
  });
});

describe("the server over stdio", () => {
  beforeAll(() => build());

  it("answers after a Content-Length of -5, and initializes without capabilities", async () => {
    const child = spawn(process.execPath, [resolve(root, "bin/tfm.js"), "lsp", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const answered = (id: number) =>
      new Promise<Record<string, unknown>>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no answer to ${id} in 10 s; stdout: ${out}; stderr: ${err}`)), 10_000);
        const look = () => {
          for (const part of out.split(/Content-Length: \d+\r\n\r\n/)) {
            try {
              const m = JSON.parse(part);
              if (m.id === id) return clearTimeout(timer), res(m);
            } catch {
              // not a whole message yet
            }
          }
          setTimeout(look, 20);
        };
        look();
      });
    child.stdin.write("Content-Length: -5\r\n\r\n{garbage}");
    child.stdin.write(frame(request(1, "initialize", { processId: null, rootUri: null })));
    const init = await answered(1);
    expect(init.error).toBeUndefined();
    expect((init.result as { capabilities: { hoverProvider: boolean } }).capabilities.hoverProvider).toBe(true);
    child.stdin.write(frame(request(2, "shutdown", {})));
    expect((await answered(2)).error).toBeUndefined();
    child.stdin.write(frame(JSON.stringify({ jsonrpc: "2.0", method: "exit" })));
    expect(await new Promise((res) => child.on("exit", res))).toBe(0);
    expect(err).toContain("dropped a malformed message (Content-Length \"-5\" is not a byte count)");
  });
});
