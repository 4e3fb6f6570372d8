// The LSP wire between the client and the protocol library, checked: messages are framed by a
// `Content-Length` header, and vscode-jsonrpc trusts it (a negative or missing length leaves its
// reader waiting forever, and `initialize` without `capabilities` makes the library throw). This
// stream passes well-formed messages through unchanged and drops a malformed one — logged, with
// the reader resynchronised at the next `Content-Length:` — so the server never goes deaf.
import { Transform, type TransformCallback } from "node:stream";

/** Larger bodies are refused as malformed (an editor's file is at most 1 MiB of text; JSON escapes grow it). */
export const maxMessageBytes = 64 << 20;

const headerEnd = Buffer.from("\r\n\r\n");
const lengthKey = Buffer.from("content-length:");

export class FramingGuard extends Transform {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly warn: (message: string) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      const end = this.buffer.indexOf(headerEnd);
      if (end < 0) {
        if (this.buffer.length > 64 << 10) this.resync("a header without its blank line", this.buffer.length);
        break;
      }
      const length = contentLength(this.buffer.subarray(0, end).toString("ascii"));
      if (typeof length === "string") {
        // From the second byte, not past the blank line: the rest of a frame whose length was too
        // short runs into the next frame's header, and that frame is good.
        this.resync(length, 1);
        continue;
      }
      const total = end + headerEnd.length + length;
      if (this.buffer.length < total) break;
      this.push(normalise(this.buffer.subarray(0, total), end + headerEnd.length, this.warn));
      this.buffer = this.buffer.subarray(total);
    }
    done();
  }

  /** Drops the bad message: everything up to the next `Content-Length:` after `from`. */
  private resync(why: string, from: number): void {
    const lower = Buffer.from(this.buffer.toString("latin1").toLowerCase(), "latin1");
    const next = lower.indexOf(lengthKey, Math.min(from, lower.length));
    this.warn(`tfm lsp: dropped a malformed message (${why})`);
    this.buffer = next < 0 ? Buffer.alloc(0) : this.buffer.subarray(next);
  }
}

/** The body length a header block gives, or why it gives none. */
function contentLength(header: string): number | string {
  const line = header.split("\r\n").find((l) => /^content-length\s*:/i.test(l));
  if (!line) return "no Content-Length header";
  const text = line.slice(line.indexOf(":") + 1).trim();
  if (!/^\d{1,12}$/.test(text)) return `Content-Length ${JSON.stringify(text.slice(0, 20))} is not a byte count`;
  const n = Number(text);
  return n > maxMessageBytes ? `Content-Length ${n} is over ${maxMessageBytes} bytes` : n;
}

/**
 * `initialize` must carry `capabilities` (the protocol requires it; the library throws without
 * it): a client that leaves it out is treated as one that announces none.
 */
function normalise(message: Buffer, bodyAt: number, warn: (message: string) => void): Buffer {
  if (message.indexOf('"initialize"', bodyAt) < 0) return message;
  let body: unknown;
  try {
    body = JSON.parse(message.subarray(bodyAt).toString("utf8"));
  } catch {
    return message; // the library answers a parse error itself
  }
  if (!isRecord(body) || body.method !== "initialize") return message;
  const params = isRecord(body.params) ? body.params : {};
  if (isRecord(params.capabilities)) return message;
  warn("tfm lsp: `initialize` without `capabilities`: taken as a client with none");
  const fixed = Buffer.from(JSON.stringify({ ...body, params: { ...params, capabilities: {} } }), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${fixed.length}\r\n\r\n`, "ascii"), fixed]);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
