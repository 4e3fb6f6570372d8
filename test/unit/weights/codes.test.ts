// Every weight-file code in the catalogue (TFM50xx) is thrown: one minimal trigger per code, each
// checked to throw a WeightFileError with exactly that code. Weight-file codes have no example
// .tfm program in test/errors/ (they come from files, not programs), so this is their coverage
// check; a new TFM50xx code fails here until it has a trigger.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { codes } from "../../../src/diag/codes.js";
import { readFileBytes } from "../../../src/runtime/files.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { readNpy, writeNpy } from "../../../src/weights/npy.js";
import { readSafetensors, writeSafetensors } from "../../../src/weights/safetensors.js";
import { craft, craftNpy } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tfm-codes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const entry = (dtype: string, shape: string, offsets: string) => `{"a":{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}}`;

const triggers: Record<string, () => unknown> = {
  TFM5001: () => readSafetensors(new Uint8Array(3)),
  TFM5002: () => readSafetensors(craft("{}", 0, 200_000_000n)),
  TFM5003: () => readSafetensors(craft("not json")),
  TFM5004: () => readSafetensors(craft(entry("F9", "[1]", "[0,4]"), 4)),
  TFM5005: () => readSafetensors(craft(entry("F32", "[1]", "[0,4]"), 0)),
  TFM5006: () => readSafetensors(craft(entry("U8", "[1]", "[0,1]"), 2)),
  TFM5007: () => readSafetensors(craft(entry("F32", "[2]", "[0,4]"), 4)),
  TFM5008: () => readSafetensors(craft(entry("F32", "[-1]", "[0,4]"), 4)),
  TFM5009: () => writeSafetensors([{ name: "", dtype: "U8", shape: [1], data: new Uint8Array(1) }]),
  TFM5010: () => readNpy(new Uint8Array(16)),
  TFM5011: () => writeNpy("BF16", [1], new Uint16Array(1)),
  TFM5012: () => readNpy(craftNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8)),
  TFM5013: () => readSafetensors(writeSafetensors([{ name: "a", dtype: "I64", shape: [1], data: new BigInt64Array([2n ** 40n]) }])).tensors.get("a")!.toInt32(),
  TFM5014: () => readSafetensors(craft('{"a":{"dtype":"F32"}}')),
  TFM5015: () => readSafetensors(craft('{"__metadata__":{"k":1}}')),
  TFM5016: () => readNpy(craftNpy("[1, 2]", 4)),
  TFM5017: () => {
    const huge = join(dir, "huge.bin");
    writeFileSync(huge, "");
    truncateSync(huge, 2 ** 31 + 8); // sparse: refused from its size alone
    return readFileBytes(huge);
  },
  TFM5018: () => readFileBytes(join(dir, "no-such-file")),
  TFM5019: () => readSafetensors(writeSafetensors([{ name: "a", dtype: "F32", shape: [1], data: new Float32Array(1) }])).tensors.get("a")!.toInt32(),
  TFM5020: () => writeNpy("F32", [2], new Int32Array(2)),
};

function thrownCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof WeightFileError) return e.code;
    throw e;
  }
  return "nothing thrown";
}

describe("every TFM50xx code in the catalogue is thrown", () => {
  const weightCodes = Object.keys(codes).filter((c) => c.startsWith("TFM50"));

  it("the catalogue has the weight-file codes", () => {
    expect(weightCodes.length).toBeGreaterThanOrEqual(20);
  });

  for (const code of weightCodes) {
    it(`${code} (${codes[code as keyof typeof codes].title})`, () => {
      const trigger = triggers[code];
      expect(trigger, `no trigger for ${code}: add one to test/unit/weights/codes.test.ts`).toBeDefined();
      expect(thrownCode(trigger!)).toBe(code);
    });
  }

  it("has no trigger for a code the catalogue lacks", () => {
    expect(Object.keys(triggers).filter((c) => !weightCodes.includes(c))).toEqual([]);
  });
});
