// Fuzzing the torch.save reader (src/weights/torch.ts, zip.ts, pickle.ts): byte mutations of a
// real small checkpoint written by PyTorch (data/small_state_dict.bin: a tied storage, a
// transposed and an offset view, f16, bf16, i64), mutations of its data.pkl alone re-zipped
// (so the pickle layer is reached), and hand-built hostile pickles (GLOBAL os.system, REDUCE of
// builtins.eval, __reduce__ payloads, huge memo indices, 100k-deep nesting, giant declared sizes,
// entries pointing outside the file, overlapping and short storages). Every input must either
// read (and then every tensor decodes or is refused) or be refused with a catalogued TFM code:
// no other exception, no hang, nothing executed (the reader has no way to call anything).
//
// The seed is printed; replay with TFM_TORCH_FUZZ_SEED=<seed>, change the length with TFM_TORCH_FUZZ_RUNS=<n>.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codes } from "../../src/diag/codes.js";
import { WeightFileError } from "../../src/weights/errors.js";
import { memorySource } from "../../src/weights/safetensors.js";
import { parseTorch } from "../../src/weights/torch.js";
import { readZipDirectory } from "../../src/weights/zip.js";
import { pickSeed } from "../helpers/seed.js";
import { P, pickle, stateDictPickle, storedZip, tensorPickle, torchArchive } from "../unit/weights/torch-helpers.js";

const base = new Uint8Array(readFileSync(new URL("./data/small_state_dict.bin", import.meta.url)));
const dir = readZipDirectory(memorySource(base));
const pklEntry = [...dir.values()].find((e) => e.name.endsWith("/data.pkl"))!;
const basePkl = base.slice(pklEntry.dataOffset, pklEntry.dataOffset + pklEntry.size);
const storages = [...dir.values()].filter((e) => /\/data\/\w+$/.test(e.name)).map((e) => [e.name.split("/").pop()!, base.slice(e.dataOffset, e.dataOffset + e.size)] as const);

/** What reading gives: "ok" (every tensor decoded) or the refusal's code; any other exception fails the property. */
function outcome(bytes: Uint8Array): string {
  try {
    const file = parseTorch(memorySource(bytes), "fuzz.bin");
    for (const e of file.tensors.values()) {
      try {
        e.decode();
      } catch (err) {
        if (!(err instanceof WeightFileError)) throw err;
      }
    }
    return "ok";
  } catch (err) {
    if (err instanceof WeightFileError && Object.prototype.hasOwnProperty.call(codes, err.code)) return err.code;
    throw new Error(`not a TFM refusal: ${String(err)}${err instanceof Error ? `\n${err.stack}` : ""}`);
  }
}

/** Bytes a mutation writes: opcodes the unpickler knows or refuses, and field-breaking values. */
const interesting = [0x00, 0xff, 0x7f, 0x80, 0x28, 0x29, 0x2e, 0x4a, 0x4b, 0x51, 0x52, 0x58, 0x5d, 0x61, 0x62, 0x63, 0x65, 0x68, 0x69, 0x6a, 0x6f, 0x71, 0x72, 0x73, 0x74, 0x75, 0x7d, 0x81, 0x82, 0x85, 0x8a, 0x93, 0x94];

type Mutation = { kind: "set"; at: number; byte: number } | { kind: "u32"; at: number; value: number } | { kind: "cut"; at: number } | { kind: "insert"; at: number; bytes: number[] } | { kind: "delete"; at: number; n: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 255 })) }),
  fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0xfffffff0, 65535, 1 << 20) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: fc.array(fc.constantFrom(...interesting), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
);
function apply(bytes: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = bytes;
  for (const m of ms) {
    const at = b.length ? m.at % b.length : 0;
    if (m.kind === "set") (b = b.slice())[at] = m.byte;
    else if (m.kind === "u32" && at + 4 <= b.length) new DataView((b = b.slice()).buffer).setUint32(at, m.value, true);
    else if (m.kind === "cut") b = b.slice(0, at);
    else if (m.kind === "insert") b = new Uint8Array([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
    else if (m.kind === "delete") b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.n)]);
  }
  return b;
}

const str = (s: string) => P.str(s);
/** Hand-built attacks, each with the code it must get. */
const hostile: [string, string, Uint8Array][] = [
  ["GLOBAL os system", "TFM5112", torchArchive(pickle(P.proto(), P.global("os", "system"), str("touch /tmp/pwned"), P.tuple1, P.reduce, P.stop), [])],
  ["GLOBAL posix system (as __reduce__ pickles it)", "TFM5112", torchArchive(pickle(P.proto(), P.global("posix", "system"), str("id"), P.tuple1, P.reduce, P.stop), [])],
  ["REDUCE of builtins.eval", "TFM5112", torchArchive(pickle(P.proto(), P.global("builtins", "eval"), str("__import__('os')"), P.tuple1, P.reduce, P.stop), [])],
  ["STACK_GLOBAL of subprocess.Popen", "TFM5112", torchArchive(pickle(P.proto(4), [0x8c, 10], [...new TextEncoder().encode("subprocess")], [0x8c, 5], [...new TextEncoder().encode("Popen")], [0x93], P.stop), [])],
  ["a __reduce__ payload inside a state_dict", "TFM5112", torchArchive(stateDictPickle([["w", [...P.global("builtins", "exec"), ...str("import os"), ...P.tuple1, ...P.reduce]]]), [])],
  ["REDUCE of a non-callable (a string)", "TFM5112", torchArchive(pickle(P.proto(), str("os.system"), P.emptyTuple, P.reduce, P.stop), [])],
  ["REDUCE of _rebuild_tensor_v2 with a list as storage", "TFM5114", torchArchive(pickle(P.proto(), P.global("torch._utils", "_rebuild_tensor_v2"), P.mark, P.emptyList, P.int(0), P.emptyTuple, P.emptyTuple, P.false, P.none, P.tuple, P.reduce, P.stop), [])],
  ["a persistent id naming os.system", "TFM5112", torchArchive(pickle(P.proto(), P.mark, str("storage"), P.global("os", "system"), str("0"), str("cpu"), P.int(1), P.tuple, P.persid, P.stop), [])],
  ["INST", "TFM5113", torchArchive(pickle(P.proto(), P.mark, [0x69, ...new TextEncoder().encode("os\nsystem\n")], P.stop), [])],
  ["OBJ", "TFM5113", torchArchive(pickle(P.proto(), P.mark, P.global("collections", "OrderedDict"), [0x6f], P.stop), [])],
  ["NEWOBJ", "TFM5113", torchArchive(pickle(P.proto(), P.global("collections", "OrderedDict"), P.emptyTuple, [0x81], P.stop), [])],
  ["EXT1", "TFM5113", torchArchive(pickle(P.proto(), [0x82, 1], P.stop), [])],
  ["BUILD on a tensor-free object", "TFM5113", torchArchive(pickle(P.proto(), P.emptyList, P.emptyDict, P.build, P.stop), [])],
  ["a huge memo index (LONG_BINPUT 2^32 - 1)", "TFM5114", torchArchive(pickle(P.proto(), P.emptyDict, P.longBinput(0xffffffff), P.stop), [])],
  ["a memo read never written", "TFM5114", torchArchive(pickle(P.proto(), P.longBinget(123456), P.stop), [])],
  ["100k nested MARKs", "TFM5114", torchArchive(pickle(P.proto(), new Array<number>(100_000).fill(0x28), P.none, new Array<number>(100_000).fill(0x74), P.stop), [])],
  ["tuples 100k deep", "TFM5114", torchArchive(pickle(P.proto(), P.none, new Array<number>(100_000).fill(0x85), P.stop), [])],
  ["a list appended to itself", "TFM5114", torchArchive(pickle(P.proto(), P.emptyList, P.binput(0), P.binget(0), P.append, P.stop), [])],
  ["a BINUNICODE of 2^32 - 1 bytes", "TFM5114", torchArchive(pickle(P.proto(), [0x58, 0xff, 0xff, 0xff, 0xff], [0x61, 0x62], P.stop), [])],
  ["a truncated stream", "TFM5114", torchArchive(basePkl.subarray(0, basePkl.length >> 1), storages)],
  ["a tensor of giant declared size", "TFM5116", torchArchive(stateDictPickle([["w", tensorPickle("0", "FloatStorage", 4, 0, [1 << 30, 1 << 30], [1 << 30, 1])]]), [["0", new Uint8Array(16)]])],
  ["a storage of giant declared numel", "TFM5116", torchArchive(stateDictPickle([["w", tensorPickle("0", "FloatStorage", 0x7fffffff, 0, [2], [1])]]), [["0", new Uint8Array(16)]])],
  ["a short storage", "TFM5116", torchArchive(stateDictPickle([["w", tensorPickle("0", "FloatStorage", 4, 0, [4], [1])]]), [["0", new Uint8Array(15)]])],
  ["one storage key named with two types", "TFM5116", torchArchive(stateDictPickle([["w", tensorPickle("0", "FloatStorage", 4, 0, [4], [1])], ["v", tensorPickle("0", "HalfStorage", 8, 0, [8], [1])]]), [["0", new Uint8Array(16)]])],
  ["an entry pointing outside the file", "TFM5110", (() => {
    const z = torchArchive(basePkl, storages);
    new DataView(z.buffer).setUint32(new DataView(z.buffer).getUint32(z.length - 6, true) + 42, 0xfffffff0, true);
    return z;
  })()],
  ["overlapping entries", "TFM5110", (() => {
    const z = storedZip([["archive/data.pkl", basePkl], ["archive/data/0", new Uint8Array(64)]]);
    const v = new DataView(z.buffer);
    const cd = v.getUint32(z.length - 6, true);
    const second = cd + 46 + "archive/data.pkl".length;
    v.setUint32(second + 42, 0, true); // the second entry's local header is the first's
    return z;
  })()],
  ["a central directory past the end", "TFM5110", (() => {
    const z = torchArchive(basePkl, storages);
    new DataView(z.buffer).setUint32(z.length - 6, 0x7ffffff0, true);
    return z;
  })()],
  ["a legacy torch.save file", "TFM5111", new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e])],
];

describe("fuzz: the torch.save reader", () => {
  const seed = pickSeed("TFM_TORCH_FUZZ_SEED");
  const numRuns = Number(process.env["TFM_TORCH_FUZZ_RUNS"] || 20_000);

  it("reads the unmutated checkpoint, and its data.pkl re-zipped", () => {
    expect(outcome(base)).toBe("ok");
    expect(outcome(torchArchive(basePkl, storages))).toBe("ok");
    expect(parseTorch(memorySource(base)).tensors.size).toBe(7);
  });

  for (const [what, code, bytes] of hostile) {
    it(`refuses ${what} with ${code}`, () => expect(outcome(bytes)).toBe(code));
  }

  it(`refuses every mutation with a TFM code or reads it (seed printed; replay with TFM_TORCH_FUZZ_SEED)`, { timeout: 120_000 }, () => {
    console.log(`[torch-fuzz] seed=${seed} numRuns=${numRuns} (replay: TFM_TORCH_FUZZ_SEED=${seed})`);
    const seen = new Map<string, number>();
    const count = (o: string) => seen.set(o, (seen.get(o) ?? 0) + 1);
    fc.assert(
      fc.property(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (wholeFile, ms) => {
        count(outcome(wholeFile ? apply(base, ms) : torchArchive(apply(basePkl, ms), storages)));
      }),
      { seed, numRuns },
    );
    console.log(`[torch-fuzz] outcomes: ${[...seen].sort().map(([o, n]) => `${o} ×${n}`).join(", ")}`);
    // The mutations reach each layer: the zip (TFM5110), the pickle (TFM5112–5114) and the tensors (TFM5116).
    expect([...seen.keys()].some((o) => o === "TFM5110")).toBe(true);
    expect([...seen.keys()].some((o) => o === "TFM5114")).toBe(true);
  });
});
