// Tests for grammar/diagrams.html: it is what the parser in grammar/parser.ts generates, and draws every rule.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildDiagramsHtml } from "../../../grammar/diagrams.js";
import { parser } from "../../../grammar/parser.js";

const repoFile = (rel: string) => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));

describe("diagrams.html", () => {
  const html = buildDiagramsHtml();

  it("is what scripts/gen-grammar.ts generates (run `npm run gen` after changing grammar/parser.ts)", () => {
    expect(readFileSync(repoFile("grammar/diagrams.html"), "utf8")).toBe(html);
  });

  it("regenerates byte-identically", () => {
    expect(buildDiagramsHtml()).toBe(html);
    expect(html.endsWith("\n")).toBe(true);
    expect(html).not.toMatch(/[ \t]$/m);
  });

  it("holds every parser rule", () => {
    const embedded = /window\.serializedGrammar = (\[[\s\S]*?\]);\n<\/script>/.exec(html);
    expect(embedded).not.toBeNull();
    const rules = (JSON.parse(embedded![1]!) as { name: string }[]).map((r) => r.name);
    expect(rules).toEqual(Object.keys(parser.getGAstProductions()));
  });

  it("loads nothing but chevrotain's own diagram resources, from node_modules (works offline)", () => {
    const urls = [...html.matchAll(/(?:src|href)='([^']*)'/g)].map((m) => m[1]!);
    expect(urls).toHaveLength(5);
    for (const u of urls) {
      expect(u, u).toMatch(/^\.\.\/node_modules\/chevrotain\/diagrams\/(?:diagrams\.css|vendor\/railroad-diagrams\.js|src\/\w+\.js)$/);
      expect(existsSync(join("grammar", u)), u).toBe(true);
    }
  });
});
