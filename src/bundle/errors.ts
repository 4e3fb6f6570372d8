// The one error that bundles and the compiler's API (src/compile.ts, src/session.ts) throw for
// what their user can act on: a model with errors, a weight file that cannot be read or does not
// fit the model, inputs that do not fit it, a failure while running. `code` is the catalogue's
// (src/diag/codes.ts): TFM5xxx for weight files and inputs, TFM6001/TFM6002 at run time, TFM7xxx
// for WebGPU; the message is a complete sentence and starts with the code.
import type { Code } from "../diag/codes.js";
import type { Diagnostic } from "../diag/diagnostic.js";

export interface TfmErrorDetails {
  /** The weight file (path or URL) concerned. */
  readonly file?: string;
  /** Byte offset into the weight file where the problem was found. */
  readonly offset?: number;
  /** The tensor (checkpoint name) concerned. */
  readonly tensor?: string;
  /** Every problem found, when there are several (the message tells the first). */
  readonly problems?: readonly { readonly code: Code; readonly message: string; readonly notes: readonly string[] }[];
  /** The compiler's API only: the same problems as diagnostics, with spans in the model's source. */
  readonly diagnostics?: readonly Diagnostic[];
}

export class TfmError extends Error {
  override readonly name = "TfmError";
  readonly code: Code;
  readonly file?: string;
  readonly offset?: number;
  readonly tensor?: string;
  readonly problems?: TfmErrorDetails["problems"];
  readonly diagnostics?: TfmErrorDetails["diagnostics"];

  constructor(code: Code, message: string, details: TfmErrorDetails = {}) {
    super(`${code}: ${message}`);
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.tensor !== undefined) this.tensor = details.tensor;
    if (details.problems !== undefined) this.problems = details.problems;
    if (details.diagnostics !== undefined) this.diagnostics = details.diagnostics;
  }
}
