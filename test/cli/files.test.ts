// Files the user gave are never lost, written through or read without bound: `tfm fmt -w` over
// planted temp names, symlinks and modes; sources and inputs that are devices, FIFOs or too large.
import { execFileSync } from "node:child_process";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readBounded, writeFileAtomic } from "../../src/runtime/files.js";
import { limits } from "../../src/syntax/limits.js";

async function tfm(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const messy = "model  M{input x:f32[n]\n\n\n   output y=relu( x )}";
const canonical = "model M {\n  input x: f32[n]\n\n  output y = relu(x)\n}\n";
const fresh = () => mkdtempSync(join(tmpdir(), "tfm-files-"));

describe("tfm fmt --write never destroys a file", () => {
  it("does not write through a symlink planted at the old fixed temp name", async () => {
    const d = fresh();
    const victim = join(d, "victim.txt");
    writeFileSync(victim, "precious");
    const src = join(d, "m.tfm");
    writeFileSync(src, messy);
    symlinkSync(victim, `${src}.tfm-fmt.tmp`);
    expect(await tfm("fmt", "--write", src)).toMatchObject({ code: 0, out: `${src}: formatted\n` });
    expect(readFileSync(src, "utf8")).toBe(canonical);
    expect(readFileSync(victim, "utf8")).toBe("precious");
    expect(lstatSync(`${src}.tfm-fmt.tmp`).isSymbolicLink()).toBe(true);
  });

  it("keeps a file and a directory that happen to have the old temp name", async () => {
    const d = fresh();
    const a = join(d, "a.tfm");
    writeFileSync(a, messy);
    writeFileSync(`${a}.tfm-fmt.tmp`, "mine");
    const b = join(d, "b.tfm");
    writeFileSync(b, messy);
    mkdirSync(`${b}.tfm-fmt.tmp`);
    expect((await tfm("fmt", "--write", a, b)).code).toBe(0);
    expect(readFileSync(`${a}.tfm-fmt.tmp`, "utf8")).toBe("mine");
    expect(statSync(`${b}.tfm-fmt.tmp`).isDirectory()).toBe(true);
    expect(readFileSync(b, "utf8")).toBe(canonical);
  });

  it("keeps the file's mode", async () => {
    const d = fresh();
    const p = join(d, "private.tfm");
    writeFileSync(p, messy);
    chmodSync(p, 0o600);
    expect((await tfm("fmt", "--write", p)).code).toBe(0);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(readFileSync(p, "utf8")).toBe(canonical);
  });

  it("formats the file a symlinked source names and leaves the link a link", async () => {
    const d = fresh();
    mkdirSync(join(d, "real"));
    const target = join(d, "real", "m.tfm");
    writeFileSync(target, messy);
    const link = join(d, "link.tfm");
    symlinkSync("real/m.tfm", link);
    expect((await tfm("fmt", "--write", link)).code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("real/m.tfm");
    expect(readFileSync(target, "utf8")).toBe(canonical);
  });

  it("reports a directory given as the file with a message, not a stack trace", async () => {
    const d = fresh();
    const r = await tfm("fmt", "--write", d);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`tfm: cannot read ${d}: it is a directory\n`);
  });

  it("writeFileAtomic refuses to replace a directory, with TFM5211", async () => {
    const d = fresh();
    mkdirSync(join(d, "out"));
    expect(() => writeFileAtomic(join(d, "out"), new Uint8Array(1), true)).toThrow(/TFM5211|it is a directory/);
  });
});

describe("sources and inputs are read within their limits", () => {
  it("`tfm check /dev/zero` stops at the 1 MiB limit with TFM1010", async () => {
    const r = await tfm("check", "/dev/zero");
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[TFM1010]: file is more than ${limits.maxFileBytes} bytes long; the limit is ${limits.maxFileBytes} bytes`);
  });

  it("a regular file over the limit is refused from its size, without reading it", async () => {
    const d = fresh();
    const p = join(d, "big.tfm");
    writeFileSync(p, "");
    execFileSync("truncate", ["-s", String(30 << 20), p]);
    expect(readBounded(p, limits.maxFileBytes)).toEqual({ tooLarge: 30 << 20, exact: true });
    const r = await tfm("fmt", "--write", p);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error[TFM1010]: file is ${30 << 20} bytes long`);
    expect(statSync(p).size).toBe(30 << 20);
  });

  it("a FIFO with no writer does not hang a source read or an --input", async () => {
    const d = fresh();
    const fifo = join(d, "in.npy");
    execFileSync("mkfifo", [fifo]);
    const model = join(d, "m.tfm");
    writeFileSync(model, "model M {\n  input x: f32[n]\n  output y = x + 1.0\n}\n");
    const r = await tfm("run", model, "--random-weights", "--input", `x=${fifo}`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("TFM5018");
    expect(r.err).toContain("is not a regular file");
    // As a source, a FIFO nobody writes to reads as empty text.
    const empty = readBounded(fifo, 100);
    expect("bytes" in empty && empty.bytes.length).toBe(0);
  });
});

describe("commands say what is wrong, with a code", () => {
  it("ir, build and init-weights on a file without a model give TFM2008", async () => {
    const d = fresh();
    const lib = join(d, "lib.tfm");
    writeFileSync(lib, "fn twice(x: f32[...]) {\n  return x * 2.0\n}\n");
    for (const argv of [["ir", lib], ["build", lib, "-o", join(d, "m.js")], ["init-weights", lib, "--seed", "1", "-o", join(d, "w.safetensors")]]) {
      const r = await tfm(...argv);
      expect(r.code, argv[0]).toBe(1);
      expect(r.err, argv[0]).toMatch(/error\[TFM2008\]: the file defines no `model`/);
    }
  });

  it("an empty -o is a usage error, not a run that writes nothing", async () => {
    const d = fresh();
    const m = join(d, "m.tfm");
    writeFileSync(m, "model M {\n  input x: f32[n]\n  output y = x + 1.0\n}\n");
    expect(await tfm("run", m, "--random-weights", "--input", "x=[1]", "-o", "")).toMatchObject({ code: 2, err: "tfm: -o/--output needs a directory name (it was empty)\n" });
    expect(await tfm("init-weights", m, "--seed", "1", "-o", "")).toMatchObject({ code: 2, err: "tfm: -o/--output needs a file name (it was empty)\n" });
  });
});
