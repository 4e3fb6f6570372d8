// The standard library's parse cache (src/std/index.ts; written by `npm run build`): a hit gives
// exactly the tree a parse gives, and a cache made from other text or by another parser is not used.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSources, makeCache, readCache, type Cache } from "../../../src/std/index.js";
import { parse } from "../../../src/syntax/parse.js";

const model = "fn twice(x) {\n  return x * 2.0\n}\n";

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tfm-std-"));
  writeFileSync(join(dir, "a.tfm"), model);
  return dir;
}

describe("the standard library's parse cache", () => {
  it("gives the tree a parse gives, through JSON", () => {
    const dir = folder();
    const cache = JSON.parse(JSON.stringify(makeCache(dir, () => "p1"))) as Cache;
    const [hit] = loadSources(dir, cache);
    expect(hit!.program).toStrictEqual(parse(model, join(dir, "a.tfm")).program);
    expect(hit!.program).toBe(cache.files[0]!.program); // from the cache, not parsed again
  });

  it("is not used for a file whose text changed", () => {
    const dir = folder();
    const cache = makeCache(dir, () => "p1");
    writeFileSync(join(dir, "a.tfm"), model.replace("2.0", "3.0"));
    const [s] = loadSources(dir, cache);
    expect(s!.program).not.toBe(cache.files[0]!.program);
    expect(s!.program).toStrictEqual(parse(s!.text, s!.file).program);
  });

  it("is not read when another parser made it, or when it is not JSON", () => {
    const dir = folder();
    const file = join(dir, "prelude.json");
    writeFileSync(file, JSON.stringify(makeCache(dir, () => "p1")));
    expect(readCache(file, () => "p1")?.files.length).toBe(1);
    expect(readCache(file, () => "p2")).toBeUndefined();
    writeFileSync(file, "{ not json");
    expect(readCache(file, () => "p1")).toBeUndefined();
    expect(readCache(join(dir, "missing.json"), () => "p1")).toBeUndefined();
  });

  it("leaves out a file with syntax errors", () => {
    const dir = folder();
    writeFileSync(join(dir, "b.tfm"), "fn broken( {\n");
    expect(makeCache(dir, () => "p1").files.map((f) => f.name)).toEqual(["a.tfm"]);
  });
});

describe("the cache `npm run build` writes", () => {
  it("holds every file of src/std as parsed now", () => {
    const file = join(import.meta.dirname, "../../../dist/src/std/prelude.json");
    expect(existsSync(file), "dist/src/std/prelude.json is missing: run `npm run build`").toBe(true);
    const built = JSON.parse(readFileSync(file, "utf8")) as Cache;
    const std = loadSources(join(import.meta.dirname, "../../../src/std"), undefined);
    expect(built.files.map((f) => f.name)).toEqual(std.map((s) => s.file.split("/").pop()));
    for (const s of std) expect(built.files.find((f) => f.text === s.text)?.program, s.file).toStrictEqual(s.program);
  });
});
