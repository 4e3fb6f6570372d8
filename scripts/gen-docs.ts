// Writes docs/DIAGNOSTICS.md from the diagnostic catalogue and the examples in test/errors/.
// `--check` writes nothing and exits 1 if the file is out of date (a test runs the same check).
import { readFileSync, writeFileSync } from "node:fs";
import { diagnosticsDoc } from "./diagnostics-doc.js";

const path = "docs/DIAGNOSTICS.md";
const want = diagnosticsDoc();
let have = "";
try {
  have = readFileSync(path, "utf8");
} catch {}
if (process.argv.includes("--check")) {
  console.log(`${path}: ${have === want ? "up to date" : "out of date (run npm run gen)"}`);
  process.exit(have === want ? 0 : 1);
}
if (have !== want) writeFileSync(path, want);
console.log(`${path}: ${have === want ? "up to date" : "written"}`);
