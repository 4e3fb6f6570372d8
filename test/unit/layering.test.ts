// The layering of src/ (docs/ARCHITECTURE.md, "Layering"): the rules are read from that table and
// checked on every import of every .ts file under src/ — static imports, `export … from`, type
// imports and dynamic `import()` — so the document and the code cannot drift apart.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/** One row of the table: files under `from` (but not under `except`) import only / never what is under `targets`. */
interface Rule {
  readonly row: string;
  readonly from: readonly string[];
  readonly except: readonly string[];
  readonly kind: "only" | "not";
  readonly targets: readonly string[];
}

interface Edge {
  readonly from: string;
  /** A path under src/ for a relative import (`.js` read as `.ts`), else the package's specifier. */
  readonly to: string;
}

const codeSpans = (s: string) => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The rules: the rows of the table under "## Layering" in docs/ARCHITECTURE.md. */
function readRules(doc: string): Rule[] {
  const section = doc.split(/^## /m).find((s) => s.startsWith("Layering\n"));
  if (!section) throw new Error('docs/ARCHITECTURE.md has no "## Layering" section');
  const rows = section.split("\n").filter((l) => l.startsWith("|")).slice(2); // past the header and |---|
  return rows.map((row) => {
    const [files, imports] = row.split("|").slice(1, 3).map((c) => c.trim()) as [string, string];
    const [inc, exc = ""] = files.split(" except ");
    const kind = imports.startsWith("only ") ? "only" : imports.startsWith("not ") ? "not" : undefined;
    if (!kind) throw new Error(`layering row ${JSON.stringify(row)}: the second cell must start with "only" or "not"`);
    return { row: `${files} → ${imports}`, from: codeSpans(inc!), except: codeSpans(exc), kind, targets: codeSpans(imports) };
  });
}

const under = (path: string, prefix: string) => (prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix);

/** Every import of every .ts file under src/. */
function importGraph(): Edge[] {
  const edges: Edge[] = [];
  const files = readdirSync("src", { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => posix.join("src", f.split("\\").join("/")));
  for (const from of files) {
    for (const { fileName } of ts.preProcessFile(readFileSync(from, "utf8"), true, true).importedFiles) {
      const to = fileName.startsWith(".") ? posix.normalize(join(dirname(from), fileName).split("\\").join("/")).replace(/\.js$/, ".ts") : fileName;
      edges.push({ from, to });
    }
  }
  return edges;
}

/** The edges a rule forbids, as `from → to (the rule's row)`. */
function violations(edges: readonly Edge[], rules: readonly Rule[]): string[] {
  const bad: string[] = [];
  for (const r of rules) {
    for (const e of edges) {
      if (!r.from.some((p) => under(e.from, p)) || r.except.some((p) => under(e.from, p))) continue;
      const listed = r.targets.some((p) => under(e.to, p));
      if (r.kind === "only" ? !listed : listed) bad.push(`${e.from} → ${e.to}   (${r.row})`);
    }
  }
  return bad;
}

const rules = readRules(readFileSync("docs/ARCHITECTURE.md", "utf8"));

describe("layering (docs/ARCHITECTURE.md)", () => {
  it("reads its rules from the document's table", () => {
    expect(rules.length).toBeGreaterThanOrEqual(7);
    for (const r of rules) expect(r.from.length && r.targets.length, r.row).toBeGreaterThan(0);
    expect(rules.find((r) => r.from.includes("src/core/"))).toMatchObject({ kind: "only", targets: ["src/core/"] });
  });

  it("finds the edges that break a rule", () => {
    const edges: Edge[] = [
      { from: "src/passes/fold-constants.ts", to: "src/backends/cpu/interpret.ts" },
      { from: "src/core/tensor.ts", to: "src/ir/graph.ts" },
      { from: "src/core/dim.ts", to: "node:fs" },
      { from: "src/backends/webgpu/program.ts", to: "src/backends/cpu/evaluate.ts" },
      { from: "src/api.ts", to: "src/cli/main.ts" },
      { from: "src/cli/main.ts", to: "src/lsp/server.ts" },
      { from: "src/core/tensor.ts", to: "src/core/dtype.ts" },
    ];
    expect(violations(edges, rules).map((v) => v.split("   ")[0])).toEqual([
      "src/core/tensor.ts → src/ir/graph.ts",
      "src/core/dim.ts → node:fs",
      "src/backends/webgpu/program.ts → src/backends/cpu/evaluate.ts",
      "src/passes/fold-constants.ts → src/backends/cpu/interpret.ts",
      "src/api.ts → src/cli/main.ts",
    ]);
  });

  it("holds for every import in src/", () => {
    const edges = importGraph();
    expect(edges.length).toBeGreaterThan(500);
    const bad = violations(edges, rules);
    expect(bad, `imports that break the layering of docs/ARCHITECTURE.md:\n  ${bad.join("\n  ")}\n`).toEqual([]);
  });
});
