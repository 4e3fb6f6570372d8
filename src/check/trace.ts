// Reporting from inside instantiated blocks and inlined functions: an error in the standard
// library (or any file but the user's) is reported at the innermost place in the user's file that
// led to it, with the whole instantiation trace as related notes, like a stack trace.
import { codes, type Code } from "../diag/codes.js";
import { diag, type DiagnosticSink, type Related, type Severity } from "../diag/diagnostic.js";
import type { Span } from "../diag/span.js";

export interface Frame {
  readonly file: string;
  readonly span: Span;
  /** "block `Attention` (h.0.attn)" or "function `softmax`" */
  readonly what: string;
}

/** Long instance paths (b.l.l.l...) keep their two ends. */
const clip = (s: string) => (s.length > 120 ? `${s.slice(0, 60)}…${s.slice(-60)}` : s);

export class TraceReporter {
  private readonly frames: Frame[] = [];
  private readonly reported = new Set<string>();

  /** `dedupe`: one report per place and message (the caller may do it itself, in an order of its own). */
  constructor(private readonly sink: Pick<DiagnosticSink, "add">, private readonly userFile: string, private readonly dedupe = true) {}

  get depth(): number {
    return this.frames.length;
  }

  /** Runs `f` inside a frame (a layer applied or instantiated, a function called). */
  within<T>(frame: Frame, f: () => T): T {
    this.frames.push(frame);
    try {
      return f();
    } finally {
      this.frames.pop();
    }
  }

  replaceTop(frame: Frame): void {
    this.frames[this.frames.length - 1] = frame;
  }

  report(code: Code, file: string, span: Span, message: string, opts: { notes?: readonly string[]; severity?: Severity; related?: readonly Related[] } = {}): void {
    const inner = [...this.frames].reverse();
    const related: Related[] = [...(opts.related ?? [])];
    let at = { file, span };
    if (file !== this.userFile) {
      const user = inner.find((f) => f.file === this.userFile);
      if (user) {
        related.unshift({ file, span, message: "the error is here" });
        at = { file: user.file, span: user.span };
      }
    }
    // A trace deeper than 8 frames keeps its 4 innermost and 4 outermost frames.
    const frames = inner.length > 8 ? [...inner.slice(0, 4), undefined, ...inner.slice(-4)] : inner;
    for (const f of frames) {
      if (f) related.push({ file: f.file, span: f.span, message: `in ${clip(f.what)}, instantiated here` });
      else related.push({ file: inner[4]!.file, span: inner[4]!.span, message: `… ${inner.length - 8} more frames …` });
    }
    // One report per place and message: a stack of 12 copies, or a function called 40 times, reports once.
    const key = `${code}:${at.file}:${at.span.start}:${message}`;
    if (this.dedupe && this.reported.has(key)) return;
    this.reported.add(key);
    this.sink.add(diag(at.file, code, at.span, message, { related, notes: opts.notes ?? [], severity: opts.severity ?? codes[code].severity }));
  }
}
