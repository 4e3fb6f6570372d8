// Regenerates grammar/tfm.tmLanguage.json and grammar/diagrams.html from grammar/tokens.ts and grammar/parser.ts.
// Run with `npx tsx scripts/gen-grammar.ts` (npm run gen); pass --check to fail instead of writing when a file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildDiagramsHtml } from "../grammar/diagrams.js";
import { textMateGrammarJson } from "../grammar/textmate.js";

const outputs: [string, () => string][] = [
  ["grammar/tfm.tmLanguage.json", textMateGrammarJson],
  ["grammar/diagrams.html", () => buildDiagramsHtml()],
];

const check = process.argv.includes("--check");
let stale = 0;
for (const [rel, build] of outputs) {
  const path = fileURLToPath(new URL(`../${rel}`, import.meta.url));
  const text = build();
  let old: string | undefined;
  try {
    old = readFileSync(path, "utf8");
  } catch {
    old = undefined;
  }
  if (old === text) {
    console.log(`${rel}: up to date`);
  } else if (check) {
    console.error(`${rel}: stale; run npm run gen`);
    stale++;
  } else {
    writeFileSync(path, text);
    console.log(`${rel}: written`);
  }
}
if (stale > 0) process.exit(1);
