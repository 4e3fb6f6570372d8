// Build step: copies the TextMate grammar generated in the tfm repository (grammar/) into syntaxes/.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, "..", "..", "..", "grammar", "tfm.tmLanguage.json");
mkdirSync(join(here, "..", "syntaxes"), { recursive: true });
copyFileSync(from, join(here, "..", "syntaxes", "tfm.tmLanguage.json"));
console.log(`copied ${from} to syntaxes/`);
