// `tfm fmt FILE...`: print canonical text, or rewrite files in place (--write), or report which
// files are not formatted (--check). Files with syntax errors are never touched.
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { fileErrorDiagnostic, writeFileAtomic } from "../runtime/files.js";
import { formatText } from "../syntax/format.js";
import { WeightFileError } from "../weights/errors.js";
import { readSource } from "./io.js";

export interface FmtOptions {
  write?: boolean;
  check?: boolean;
}

export function runFmt(files: string[], opts: FmtOptions, out: (s: string) => void, err: (s: string) => void): number {
  let status = 0;
  for (const file of files) {
    const { text, decodeErrors } = readSource(file);
    const r = formatText(text, file);
    const diagnostics = sortDiagnostics([...decodeErrors, ...r.diagnostics]);
    if (r.text === undefined || hasErrors(diagnostics)) {
      err(renderDiagnostics(diagnostics.filter((d) => d.severity === "error"), new Map([[file, text]])) + "\n");
      err(`${file}: not formatted: fix the syntax errors first\n`);
      status = 1;
      continue;
    }
    if (opts.check) {
      if (r.text !== text) {
        out(`${file}: would be reformatted\n`);
        status = 1;
      }
    } else if (opts.write) {
      if (r.text !== text) {
        // Through a random temp file beside the file it replaces: an interrupted write never loses
        // the original, the file keeps its mode, and a symlinked source stays a symlink.
        try {
          writeFileAtomic(file, new TextEncoder().encode(r.text), true);
        } catch (e) {
          if (!(e instanceof WeightFileError)) throw e;
          err(renderDiagnostics([fileErrorDiagnostic(e, file)], new Map()) + "\n");
          status = 1;
          continue;
        }
        out(`${file}: formatted\n`);
      }
    } else {
      out(r.text);
    }
  }
  return status;
}
