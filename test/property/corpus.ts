// The fuzz corpus and the regression store shared by fuzz.test.ts and regressions.test.ts.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const repoFile = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
export const regressionsDir = repoFile("test/property/regressions");

export interface Seed {
  /** Repository-relative path. */
  readonly name: string;
  readonly text: string;
}

/** Every model in models/ (read now, so new models join the fuzz automatically) and the stdlib. */
export function loadCorpus(): Seed[] {
  const models = readdirSync(repoFile("models"))
    .filter((f) => f.endsWith(".tfm"))
    .sort()
    .map((f) => `models/${f}`);
  return [...models, "src/std/nn.tfm"].map((name) => ({ name, text: readFileSync(repoFile(name), "utf8") }));
}

/** Whether `text` survives a UTF-8 round trip (lone surrogates do not). */
const utf8Safe = (text: string) => Buffer.from(text, "utf8").toString("utf8") === text;

/**
 * Stores a failing input as regressions/<hash>.tfm. Text that UTF-8 cannot hold exactly (lone
 * surrogates) is also stored as <hash>.json, a JSON string, which the replay prefers.
 */
export function saveRegression(text: string): string {
  mkdirSync(regressionsDir, { recursive: true });
  const hash = createHash("sha256").update(text, "utf16le").digest("hex").slice(0, 16);
  const path = `${regressionsDir}/${hash}.tfm`;
  writeFileSync(path, text, "utf8");
  if (!utf8Safe(text)) writeFileSync(`${regressionsDir}/${hash}.json`, JSON.stringify(text) + "\n", "utf8");
  return path;
}

/** Every stored regression: name and exact text. */
export function loadRegressions(): { name: string; text: string }[] {
  if (!existsSync(regressionsDir)) return [];
  return readdirSync(regressionsDir)
    .filter((f) => f.endsWith(".tfm"))
    .sort()
    .map((f) => {
      const json = `${regressionsDir}/${f.slice(0, -4)}.json`;
      const text = existsSync(json) ? (JSON.parse(readFileSync(json, "utf8")) as string) : readFileSync(`${regressionsDir}/${f}`, "utf8");
      return { name: f, text };
    });
}
