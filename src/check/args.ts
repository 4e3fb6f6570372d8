// Matching call arguments to a signature: positional then named, with the errors PyTorch users
// expect (too many, unknown name with did-you-mean, given twice, missing).
import type { DiagnosticSink, Related } from "../diag/diagnostic.js";
import { didYouMean } from "../diag/suggest.js";
import type { Span } from "../diag/span.js";
import type { Arg } from "../syntax/ast.js";

export interface SigParam {
  readonly name: string;
  readonly optional: boolean;
}

export interface Signature {
  /** "block `Linear`", "function `softmax`", ... */
  readonly what: string;
  readonly params: readonly SigParam[];
  /** Where the signature is declared, for a "defined here" note. */
  readonly declared?: Related;
}

/** Returns the argument bound to each parameter (undefined where the default applies). */
/** With no sink, matches silently (for phases after the resolver, which already reported). */
export function matchArgs(args: readonly Arg[], sig: Signature, callSpan: Span, sink?: DiagnosticSink): (Arg | undefined)[] {
  const bound: (Arg | undefined)[] = sig.params.map(() => undefined);
  const related = sig.declared ? [sig.declared] : [];
  let sawNamed = false;
  let positional = 0;
  for (const a of args) {
    if (!a.name) {
      if (sawNamed) {
        sink?.report("TFM2014", a.span, "positional argument after a named argument");
        continue;
      }
      if (positional >= sig.params.length) {
        // Once per call, at the first argument too many (200,000 extra arguments are one mistake).
        const n = sig.params.length;
        if (positional === n) sink?.report("TFM2003", a.span, `${sig.what} takes ${n} argument${n === 1 ? "" : "s"}, but more were given`, { related });
        positional++;
        continue;
      }
      bound[positional++] = a;
      continue;
    }
    sawNamed = true;
    const i = sig.params.findIndex((p) => p.name === a.name!.name);
    if (i < 0) {
      sink?.report("TFM2004", a.name.span, `${sig.what} has no parameter \`${a.name.name}\``, {
        related,
        notes: didYouMean(a.name.name, sig.params.map((p) => p.name)),
      });
    } else if (bound[i]) {
      sink?.report("TFM2005", a.span, `argument \`${a.name.name}\` is given more than once`, { related: [{ span: bound[i]!.span, message: "first given here" }] });
    } else {
      bound[i] = a;
    }
  }
  const missing = sig.params.filter((p, i) => !p.optional && !bound[i]).map((p) => `\`${p.name}\``);
  if (missing.length) {
    sink?.report("TFM2006", callSpan, `${sig.what} is missing ${missing.length === 1 ? "argument" : "arguments"} ${missing.join(", ")}`, { related });
  }
  return bound;
}
