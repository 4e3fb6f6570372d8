// The torch.save reader (src/weights/torch.ts, zip.ts, pickle.ts): files written by Debian's
// PyTorch (test/fixtures/torch_bin.py) read to the exact values torch holds — f32, f16, bf16, f64,
// i64, bool, a tied storage, a transposed view, a slice at a storage offset, 0-d and empty tensors,
// an nn.Parameter — and hand-built archives for zip64 and for each refusal code.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WeightFileError } from "../../../src/weights/errors.js";
import { openTorch } from "../../../src/weights/file-source.js";
import { readNpy } from "../../../src/weights/npy.js";
import { memorySource } from "../../../src/weights/safetensors.js";
import { parseTorch } from "../../../src/weights/torch.js";
import { P, pickle, stateDictPickle, storedZip, tensorPickle, torchArchive, writeSparseZip64 } from "./torch-helpers.js";

const python = process.env.TFM_PYTHON ?? "/usr/bin/python3";
const script = fileURLToPath(new URL("../../fixtures/torch_bin.py", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tfm-torch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let names: string[] | undefined;
function build(): string[] {
  if (names) return names;
  const r = spawnSync(python, [script, dir], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${python} ${script} failed (${r.status ?? r.signal}): ${r.error?.message ?? r.stderr}`);
  names = (JSON.parse(r.stdout) as { names: string[] }).names;
  return names;
}

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof WeightFileError) return e.code;
    throw e;
  }
  return "none";
};
const parse = (bytes: Uint8Array) => parseTorch(memorySource(bytes), "t.bin");
const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

describe("torch.save files written by PyTorch", () => {
  it("state_dict.bin: every tensor equals torch's values exactly, views and shared storages included", () => {
    const all = build();
    const file = openTorch(join(dir, "state_dict.bin"));
    expect([...file.tensors.keys()]).toEqual(all);
    let max = 0;
    for (const name of all) {
      const e = file.tensors.get(name)!;
      const ref = readNpy(readFileSync(join(dir, "ref", `${name}.npy`)));
      expect(e.shape, name).toEqual(ref.shape);
      const got = e.dtype === "I64" || e.dtype === "BOOL" ? Array.from(e.dtype === "I64" ? (e.decode() as BigInt64Array) : e.decode(), Number) : Array.from(e.toFloat32());
      const want = Array.from(ref.data as Float64Array | BigInt64Array, Number);
      // f16/bf16 widen to f32 exactly; f64 is rounded to f32 by toFloat32.
      const tol = e.dtype === "F64" ? 1e-7 : 0;
      for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i]! - want[i]!) / (e.dtype === "F64" ? Math.max(1, Math.abs(want[i]!)) : 1));
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name}[${i}]`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i]!)));
    }
    console.log(`state_dict.bin: ${all.length} tensors, max abs error vs torch ${max} (f64 relative, rounded to f32)`);
    expect(file.tensors.get("extra.transposed")!.dtype).toBe("F32");
    expect(file.tensors.get("extra.half")!.dtype).toBe("F16");
    expect(file.tensors.get("extra.bf16")!.dtype).toBe("BF16");
    expect(Array.from(file.tensors.get("lm_head.weight")!.toFloat32())).toEqual(Array.from(file.tensors.get("transformer.wte.weight")!.toFloat32()));
  });

  it("param.bin: an nn.Parameter (_rebuild_parameter) reads as its tensor", () => {
    build();
    const e = openTorch(join(dir, "param.bin")).tensors.get("w")!;
    expect(e.shape).toEqual([2, 2]);
    expect(Array.from(e.toFloat32())).toEqual([1, 1, 1, 1]);
  });

  it("legacy.bin (pre-1.6 format) is TFM5111, saying to re-save it", () => {
    build();
    expect(() => openTorch(join(dir, "legacy.bin"))).toThrow(/re-save/);
    expect(codeOf(() => openTorch(join(dir, "legacy.bin")))).toBe("TFM5111");
  });

  it("an object whose __reduce__ is os.system is refused (TFM5112) and nothing runs", () => {
    build();
    expect(codeOf(() => openTorch(join(dir, "hostile_reduce.bin")))).toBe("TFM5112");
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
  });
});

describe("hand-built archives", () => {
  const pkl = stateDictPickle([
    ["a", tensorPickle("0", "FloatStorage", 6, 0, [2, 3], [3, 1])],
    ["t", tensorPickle("0", "FloatStorage", 6, 0, [3, 2], [1, 3])],
    ["s", tensorPickle("0", "FloatStorage", 6, 4, [2], [1])],
  ]);
  const store = f32([0, 1, 2, 3, 4, 5]);

  it("reads the same from a zip64 archive (as miniz writes for big files) as from a plain one", () => {
    for (const zip64 of [false, true]) {
      const t = parse(torchArchive(pkl, [["0", store]], { zip64 })).tensors;
      expect(Array.from(t.get("a")!.toFloat32())).toEqual([0, 1, 2, 3, 4, 5]);
      expect(Array.from(t.get("t")!.toFloat32())).toEqual([0, 3, 1, 4, 2, 5]); // the transpose view, gathered
      expect(Array.from(t.get("s")!.toFloat32())).toEqual([4, 5]); // storage offset 4
    }
  });

  it("reads by range from a 4.5 GiB zip64 file (sparse on disk): tensors at offsets past 2^32 bytes, nothing read whole", () => {
    const numel = 1_207_959_552; // 4.5 GiB of f32
    const path = join(dir, "big.bin");
    const end = numel * 4;
    writeSparseZip64(path, [
      { name: "archive/data.pkl", size: bigPkl.length, parts: [[0, bigPkl]] },
      { name: "archive/data/0", size: end, parts: [[end - 16, f32([1, 2, 3, 4])], [0, f32([7, 8])]] },
      { name: "archive/version", size: 2, parts: [[0, new TextEncoder().encode("3\n")]] },
    ]);
    const t = openTorch(path).tensors;
    expect(Array.from(t.get("tail")!.toFloat32())).toEqual([1, 2, 3, 4]);
    expect(Array.from(t.get("head")!.toFloat32())).toEqual([7, 8]);
    expect(t.get("tail")!.byteOffset).toBeGreaterThan(2 ** 32);
  });
  const bigPkl = stateDictPickle([
    ["tail", tensorPickle("0", "FloatStorage", 1_207_959_552, 1_207_959_548, [4], [1])],
    ["head", tensorPickle("0", "FloatStorage", 1_207_959_552, 0, [2], [1])],
  ]);

  const cases: [string, string, () => Uint8Array][] = [
    ["TFM5110", "not a zip", () => new TextEncoder().encode("hello, this is not a checkpoint at all")],
    ["TFM5110", "an entry pointing outside the file", () => {
      const z = torchArchive(pkl, [["0", store]]);
      const cd = new DataView(z.buffer).getUint32(z.length - 6, true); // the first central directory entry
      new DataView(z.buffer).setUint32(cd + 42, 0x7fffffff, true); // its local header offset
      return z;
    }],
    ["TFM5110", "a compressed entry", () => {
      const z = torchArchive(pkl, [["0", store]]);
      const cd = new DataView(z.buffer).getUint32(z.length - 6, true);
      new DataView(z.buffer).setUint16(cd + 10, 8, true); // deflate
      return z;
    }],
    ["TFM5110", "no data.pkl", () => storedZip([["x/y", new Uint8Array(3)]])],
    ["TFM5112", "GLOBAL os system", () => torchArchive(pickle(P.proto(), P.global("os", "system"), P.str("id"), P.tuple1, P.reduce, P.stop), [])],
    ["TFM5112", "REDUCE of builtins.eval", () => torchArchive(pickle(P.proto(), P.global("builtins", "eval"), P.str("1"), P.tuple1, P.reduce, P.stop), [])],
    ["TFM5112", "REDUCE of a storage type", () => torchArchive(pickle(P.proto(), P.global("torch", "FloatStorage"), P.emptyTuple, P.reduce, P.stop), [])],
    ["TFM5113", "INST", () => torchArchive(pickle(P.proto(), P.mark, [0x69], [...new TextEncoder().encode("os\nsystem\n")], P.stop), [])],
    ["TFM5113", "BUILD on a list", () => torchArchive(pickle(P.proto(), P.emptyList, P.emptyDict, P.build, P.stop), [])],
    ["TFM5114", "truncated", () => torchArchive(pkl.subarray(0, pkl.length - 9), [["0", store]])],
    ["TFM5114", "a huge memo index", () => torchArchive(pickle(P.proto(), P.emptyDict, P.longBinput(0xfffffff0), P.stop), [])],
    ["TFM5114", "100k nested MARKs", () => torchArchive(pickle(P.proto(), new Array<number>(100_000).fill(0x28), P.none, new Array<number>(100_000).fill(0x74), P.stop), [])],
    ["TFM5114", "tuples nested 100k deep", () => torchArchive(pickle(P.proto(), P.none, new Array<number>(100_000).fill(0x85), P.stop), [])],
    ["TFM5114", "a million values on the stack", () => torchArchive(pickle(P.proto(), new Array<number>(1_100_000).fill(0x4e), P.stop), [])],
    ["TFM5115", "a list, not a dict", () => torchArchive(pickle(P.proto(), P.emptyList, P.stop), [])],
    ["TFM5116", "a short storage", () => torchArchive(pkl, [["0", store.subarray(0, 20)]])],
    ["TFM5116", "a view past its storage", () => torchArchive(stateDictPickle([["a", tensorPickle("0", "FloatStorage", 6, 5, [2], [1])]]), [["0", store]])],
    ["TFM5116", "a missing storage record", () => torchArchive(pkl, [])],
    ["TFM5117", "a complex storage", () => torchArchive(stateDictPickle([["a", tensorPickle("0", "ComplexFloatStorage", 1, 0, [1], [1])]]), [["0", new Uint8Array(8)]])],
  ];
  for (const [code, what, make] of cases) {
    it(`${what}: ${code}`, () => {
      expect(codeOf(() => parse(make()))).toBe(code);
    });
  }
});
