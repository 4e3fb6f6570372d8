// One example program per diagnostic code: test/errors/TFMxxxx-what-it-is.tfm. Each file says
// what it must produce in header comments:
//
//   # expect: TFM2001 at 4:12      a diagnostic with this code whose primary span starts at this
//                                  1-based line:column (repeatable)
//   # set: name=value              a `--set` setting to check with (repeatable)
//   # pad-to: 1048577              pad the text with a trailing comment to this many characters
//                                  (for limits too large for a small file)
//
// Files are read as the CLI reads them (bytes, then UTF-8 with TFM1013 for invalid text). Every
// code in the catalogue must have an example but TFM9001 (a bug) and the TFM5xxx codes, which come
// from weight, tensor and input files rather than programs (test/unit/weights/codes.test.ts and
// test/unit/runtime/codes.test.ts check that each of those is produced), and all the rendered diagnostics are
// kept in __snapshots__/errors.golden.txt, so that message changes show up in review as a diff.
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { check, type CheckResult } from "../../src/api.js";
import { readSource } from "../../src/cli/io.js";
import { codes, type Code } from "../../src/diag/codes.js";
import { sortDiagnostics, type Diagnostic } from "../../src/diag/diagnostic.js";
import { renderDiagnostics } from "../../src/diag/render.js";

const dir = fileURLToPath(new URL(".", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

interface Expectation {
  readonly code: string;
  readonly line: number;
  readonly column: number;
}

interface Example {
  /** The file name, e.g. TFM2001-undefined-name.tfm. */
  readonly name: string;
  /** The name diagnostics are reported under: repository-relative, the same on every machine. */
  readonly file: string;
  readonly text: string;
  readonly expects: readonly Expectation[];
  readonly settings: ReadonlyMap<string, string>;
  readonly result: CheckResult;
  readonly diagnostics: readonly Diagnostic[];
}

function load(name: string): Example {
  const file = `test/errors/${name}`;
  const source = readSource(`${dir}${name}`);
  let text = source.text;
  const header = (key: string) => [...text.matchAll(new RegExp(`^# ${key}:[ \\t]*(.*?)[ \\t]*\\r?$`, "gm"))].map((m) => m[1]!);
  const expects = header("expect").map((h) => {
    const m = /^(TFM\d{4}) at (\d+):(\d+)$/.exec(h);
    if (!m) throw new Error(`${file}: bad header \`# expect: ${h}\` (want \`# expect: TFM2001 at 4:12\`)`);
    return { code: m[1]!, line: Number(m[2]), column: Number(m[3]) };
  });
  const settings = new Map(
    header("set").map((h) => {
      const eq = h.indexOf("=");
      if (eq <= 0) throw new Error(`${file}: bad header \`# set: ${h}\` (want \`# set: name=value\`)`);
      return [h.slice(0, eq).trim(), h.slice(eq + 1)] as const;
    }),
  );
  const padTo = header("pad-to").map(Number)[0];
  if (padTo !== undefined && text.length < padTo) text += "#".repeat(padTo - text.length);
  const result = check(text, file, { settings });
  const decodeErrors = source.decodeErrors.map((d) => ({ ...d, file }));
  return { name, file, text, expects, settings, result, diagnostics: sortDiagnostics([...decodeErrors, ...result.diagnostics]) };
}

/** 1-based line and column of a UTF-16 offset; lines end at \n, \r\n or \r. */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text[i];
    if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: offset - start + 1 };
}

const render = (ex: Example) => renderDiagnostics(ex.diagnostics, ex.result.sources).split(repoRoot).join("");
const list = (ex: Example) =>
  ex.diagnostics.map((d) => {
    const p = position(ex.text, d.span.start);
    return `  ${d.code} at ${p.line}:${p.column} ${d.severity}: ${d.message}`;
  }).join("\n") || "  (no diagnostics)";

const names = readdirSync(dir).filter((f) => f.endsWith(".tfm")).sort();
const examples = names.map(load);

describe("test/errors: one example program per diagnostic code", () => {
  for (const ex of examples) {
    describe(ex.name, () => {
      it("is named after a code it expects and has `# expect:` headers", () => {
        expect(ex.name).toMatch(/^TFM\d{4}-[a-z0-9]+(-[a-z0-9]+)*\.tfm$/);
        expect(ex.expects.length, "no `# expect: CODE at LINE:COL` header").toBeGreaterThan(0);
        expect(ex.expects.map((e) => e.code)).toContain(ex.name.slice(0, 7));
        for (const e of ex.expects) expect(Object.hasOwn(codes, e.code), `${e.code} is not in src/diag/codes.ts`).toBe(true);
      });

      for (const e of ex.expects) {
        it(`reports ${e.code} at ${e.line}:${e.column}`, () => {
          const hit = ex.diagnostics.find((d) => {
            if (d.code !== e.code || d.file !== ex.file) return false;
            const p = position(ex.text, d.span.start);
            return p.line === e.line && p.column === e.column;
          });
          expect(hit, `no ${e.code} at ${e.line}:${e.column}; the diagnostics are:\n${list(ex)}`).toBeDefined();
          expect(hit!.severity, "the severity differs from the catalogue's").toBe(codes[e.code as Code].severity);
          expect(render(ex)).toMatch(new RegExp(`\\b(error|warning)\\[${e.code}\\]`));
        });
      }

      it("has no internal compiler error", () => {
        expect(ex.diagnostics.filter((d) => d.code === "TFM9001"), list(ex)).toEqual([]);
      });
    });
  }

  describe("every code in the catalogue has an example", () => {
    const covered = new Set(examples.flatMap((ex) => ex.expects.map((e) => e.code)));
    // TFM5xxx: weight, tensor and input files, not programs: covered by test/unit/{weights,runtime}/codes.test.ts.
    // TFM6xxx: running a model: covered by test/cli/run.test.ts. TFM7xxx: the WebGPU device: test/webgpu/codes.test.ts.
    // TFM8xxx: generating text: test/unit/generate/ and test/cli/generate.test.ts.
    for (const code of Object.keys(codes).filter((c) => c !== "TFM9001" && !/^TFM[5678]/.test(c))) {
      it(`${code} (${codes[code as Code].title})`, () => {
        expect(covered.has(code), `no file in test/errors expects ${code}: add test/errors/${code}-<what>.tfm with \`# expect: ${code} at LINE:COL\``).toBe(true);
      });
    }
  });

  it("renders each example's diagnostics in at most 40 lines", () => {
    // Long traces should be elided (as TFM2010 elides its cycle), not printed frame by frame.
    for (const ex of examples) {
      if (ex.name.startsWith("TFM1016")) continue; // many diagnostics are its point: it shows the limit of 200
      const lines = render(ex).split("\n");
      expect(lines.length, `${ex.name} renders in ${lines.length} lines`).toBeLessThanOrEqual(40);
      for (const l of lines) expect(l.length, `${ex.name} renders a line of ${l.length} characters`).toBeLessThanOrEqual(400);
    }
  });

  it("renders every example as in __snapshots__/errors.golden.txt", async () => {
    // Capped per example (30 lines of 200 characters), so that one runaway diagnostic (tested above) cannot bury the others.
    const capped = (text: string) => {
      const lines = text.split("\n").map((l) => (l.length > 200 ? `${l.slice(0, 200)}… (${l.length} characters)` : l));
      return lines.length > 30 ? [...lines.slice(0, 30), `… (${lines.length - 30} more lines)`].join("\n") : lines.join("\n");
    };
    const golden = examples
      .map((ex) => {
        const set = [...ex.settings].map(([k, v]) => ` --set ${k}=${v}`).join("");
        return `==== ${ex.name}${set}\n${capped(render(ex))}\n`;
      })
      .join("\n");
    await expect(golden).toMatchFileSnapshot("__snapshots__/errors.golden.txt");
  });
});

// The other half of a diagnostic's contract: idioms the stdlib itself uses must stay silent.
describe("no false positives", () => {
  const clean: Record<string, string> = {
    "a binding used only by `output y`": "block B() {\n  input x: f32[n]\n  y = x * 2.0\n  output y\n}\n",
    "a binding rebound in an `if`, then output": "block B(double: bool = false) {\n  input x: f32[n]\n  y = x\n  if double {\n    y = x * 2.0\n  }\n  output y\n}\n",
    "a model whose output is a binding": "model M() {\n  input x: f32[n]\n  y = x * 2.0\n  output y\n}\n",
  };
  for (const [what, text] of Object.entries(clean)) {
    it(what, () => {
      const r = check(text, "clean.tfm");
      expect(renderDiagnostics(r.diagnostics, r.sources)).toBe("");
    });
  }

  // Shortening long quotes must not treat the text *between* two quotes as a quote.
  it("a message quoting two short names keeps the text between them", () => {
    const r = check("block B() {\n  input x: f32[n]\n  layer act = exp(x)\n  output y = act(x)\n}\n", "kind.tfm");
    const d = r.diagnostics.find((x) => x.code === "TFM2007");
    expect(d?.message).toBe("builtin function `exp` is not a block (functions are called directly: `y = exp(x)`)");
  });

  // A syntax error is news; errors about the parts the parser made up to recover are not.
  const syntaxOnly: Record<string, string> = {
    "`return .a`": "fn f(x) {\n  return .a\n}\n",
    "`return .(x)`": "fn f(x) {\n  return .(x)\n}\n",
  };
  for (const [what, text] of Object.entries(syntaxOnly)) {
    it(`${what} gets syntax errors only`, () => {
      const r = check(text, "broken.tfm");
      expect(r.diagnostics.length).toBeGreaterThan(0);
      expect(r.diagnostics.filter((d) => d.code !== "TFM1003").map((d) => `${d.code}@${d.span.start}-${d.span.end} ${d.message}`)).toEqual([]);
    });
  }
});

// The golden file names files relative to the repository: make sure nothing machine-specific leaks.
it("the golden file has no absolute paths", () => {
  let golden = "";
  try {
    golden = readFileSync(`${dir}__snapshots__/errors.golden.txt`, "utf8");
  } catch {
    return; // written by the test above on its first run
  }
  expect(golden.includes(repoRoot)).toBe(false);
});
