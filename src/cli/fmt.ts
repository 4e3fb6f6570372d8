// `tfm fmt FILE...`: print canonical text, or rewrite files in place (--write), or report which
// files are not formatted (--check). Files with syntax errors are never touched.
import { renameSync, writeFileSync } from "node:fs";
import { hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { renderDiagnostics } from "../diag/render.js";
import { formatText } from "../syntax/format.js";
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
        // Write beside the file, then rename over it: an interrupted write never loses the original.
        const tmp = `${file}.tfm-fmt.tmp`;
        writeFileSync(tmp, r.text);
        renameSync(tmp, file);
        out(`${file}: formatted\n`);
      }
    } else {
      out(r.text);
    }
  }
  return status;
}
