// The text of docs/DIAGNOSTICS.md: every code, its severity and summary, and its example program.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { codes, type Code } from "../src/diag/codes.js";

export function diagnosticsDoc(): string {
  const examples = existsSync("test/errors") ? readdirSync("test/errors").filter((f) => f.endsWith(".tfm")).sort() : [];
  const lines = [
    "# Diagnostics",
    "",
    "<!-- Generated from src/diag/codes.ts and test/errors/ by `npm run gen`: do not edit by hand. -->",
    "",
    "Every diagnostic tfm reports has a stable code. Codes are never renumbered or reused.",
    "`1xxx`: reading the text (lexing, parsing, limits). `2xxx`: names, declarations and calls.",
    "`3xxx`: compile-time values (model parameters, dimension arithmetic). `4xxx`: shapes and element types.",
    "`5xxx`: weight and tensor files — reading .safetensors and .npy (`50xx`), binding a checkpoint to the",
    "model (`51xx`), model inputs and outputs (`52xx`); these come from files, not programs, so they have",
    "no example program. `6xxx`: running a model. `7xxx`: backends (the WebGPU device and its limits).",
    "`9xxx`: bugs in tfm.",
    "",
  ];
  for (const code of Object.keys(codes) as Code[]) {
    const info = codes[code];
    lines.push(`## ${code}: ${info.title}`, "", `Severity: ${info.severity}.`, "");
    const ex = examples.find((f) => f.startsWith(code));
    if (ex) lines.push("Example (`test/errors/" + ex + "`):", "", "```tfm", readFileSync(`test/errors/${ex}`, "utf8").trimEnd(), "```", "");
  }
  return lines.join("\n");
}
