// Builds grammar/diagrams.html, railroad diagrams of the parser's rules, from the chevrotain parser in grammar/parser.ts.
// scripts/gen-grammar.ts writes its output; test/unit/grammar/diagrams.test.ts checks the file has not drifted.
import { createSyntaxDiagramsCode } from "./chevrotain.js";
import { parser } from "./parser.js";

/**
 * Where the page loads its scripts and stylesheet from. chevrotain's default is a versioned copy of
 * its own `diagrams/` folder on a public package CDN, so the page needs network access to render;
 * pass a `resourceBase` (ending in `/`) and `css` URL to point it at a local copy instead.
 */
export interface DiagramsOptions {
  resourceBase?: string;
  css?: string;
}

/** The exact text of grammar/diagrams.html. */
/** By default the page uses chevrotain's own copy in node_modules, so it renders offline. */
const local: DiagramsOptions = { resourceBase: "../node_modules/chevrotain/diagrams/", css: "../node_modules/chevrotain/diagrams/diagrams.css" };

export function buildDiagramsHtml(options: DiagramsOptions = local): string {
  const html = createSyntaxDiagramsCode(parser.getSerializedGastProductions(), options);
  // chevrotain leaves trailing spaces on one line; normalise so the file is clean and ends in one newline.
  const note = "<!-- Generated from grammar/parser.ts by scripts/gen-grammar.ts (npm run gen): do not edit by hand. -->";
  return `${note}\n${html.replace(/[ \t]+$/gm, "").trim()}\n`;
}
