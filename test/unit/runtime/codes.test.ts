// Every runtime code in the catalogue (TFM51xx: checkpoints, TFM52xx: inputs and outputs) is
// produced: one minimal trigger per code. Like the TFM50xx codes (test/unit/weights/codes.test.ts)
// they come from files and values rather than programs, so they have no example in test/errors/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fromValues } from "../../../src/core/tensor.js";
import { codes } from "../../../src/diag/codes.js";
import { compile, modelData, TfmError } from "../../../src/index.js";
import { capturePorts } from "../../../src/bundle/api.js";
import { bindCheckpoint } from "../../../src/runtime/bind.js";
import { type InputSpec, loadInputs } from "../../../src/runtime/inputs.js";
import { writeOutputs } from "../../../src/runtime/outputs.js";
import { checkDrawable, maxGraphNodes } from "../../../src/viz/graph.js";
import { toMatrix } from "../../../src/viz/tensor.js";
import { configSettings } from "../../../src/runtime/config.js";
import { locateCheckpoint, openCheckpoint } from "../../../src/runtime/folder.js";
import { WeightFileError } from "../../../src/weights/errors.js";
import { ExportError, exportOnnx } from "../../../src/export/onnx.js";
import { constDim, mulDim, symDim } from "../../../src/core/dim.js";
import { type NamedTensor, writeSafetensors } from "../../../src/weights/safetensors.js";
import { checked, fullCheckpoint, tiny, weightsOf } from "./helpers.js";
import { memorySource } from "../../../src/weights/safetensors.js";
import { parseTorch } from "../../../src/weights/torch.js";
import { P, pickle, stateDictPickle, storedZip, tensorPickle, torchArchive } from "../weights/torch-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tfm-rtcodes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const t = tiny();
const bind = (ts: readonly NamedTensor[]) => bindCheckpoint(weightsOf(t), writeSafetensors(ts), t.instance!.ignored).diagnostics.map((d) => d.code);
const ok = fullCheckpoint(weightsOf(t));
const swap = (n: NamedTensor) => [...ok.filter((x) => x.name !== n.name), n];

const r = checked("model In {\n  input ids: i32[batch, seq]\n  input mask: bool[batch, 4]\n  output y = ids\n}\n", "in.tfm");
const json = (name: string, text: string): InputSpec => ({ name, source: { kind: "json", text } });
const inputs = (...specs: InputSpec[]) => loadInputs(r, specs).diagnostics.map((d) => d.code);
const mask = json("mask", "[[1, 0, 1, 1]]");

const thrown = (f: () => unknown): string[] => {
  try {
    f();
  } catch (e) {
    if (e instanceof WeightFileError) return [e.code];
    throw e;
  }
  return [];
};

const torch = (bytes: Uint8Array) => parseTorch(memorySource(bytes), "t.bin");

const triggers: Record<string, () => string[]> = {
  TFM5101: () => bind(ok.slice(1)),
  TFM5102: () => bind([...ok, { name: "stray", dtype: "F32", shape: [1], data: new Float32Array(1) }]),
  TFM5103: () => bind(swap({ name: "scale", dtype: "F32", shape: [5], data: new Float32Array(5) })),
  TFM5104: () => bind(swap({ name: "scale", dtype: "BOOL", shape: [4], data: new Uint8Array(4) })),
  TFM5105: () => {
    const a = join(dir, "a.safetensors");
    writeFileSync(a, writeSafetensors(ok));
    return thrown(() => openCheckpoint([a, a]));
  },
  TFM5106: () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    return thrown(() => locateCheckpoint([empty]));
  },
  TFM5107: () => {
    const c = join(dir, "config.json");
    writeFileSync(c, '{"n": "twelve"}');
    return thrown(() => configSettings(c, new Map([["n", "int"]]), new Set()));
  },
  // TFM5110–TFM5117: torch.save checkpoints (more of each in test/unit/weights/torch.test.ts and test/property/torch-fuzz.test.ts).
  TFM5110: () => thrown(() => torch(storedZip([["x/y", new Uint8Array(1)]]))),
  TFM5111: () => thrown(() => torch(new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]))),
  TFM5112: () => thrown(() => torch(torchArchive(pickle(P.proto(), P.global("os", "system"), P.str("id"), P.tuple1, P.reduce, P.stop), []))),
  TFM5113: () => thrown(() => torch(torchArchive(pickle(P.proto(), P.mark, [0x69], [...new TextEncoder().encode("os\nsystem\n")], P.stop), []))),
  TFM5114: () => thrown(() => torch(torchArchive(pickle(P.proto(), P.emptyDict), []))),
  TFM5115: () => thrown(() => torch(torchArchive(pickle(P.proto(), P.emptyList, P.stop), []))),
  TFM5116: () => thrown(() => torch(torchArchive(stateDictPickle([["a", tensorPickle("0", "FloatStorage", 6, 0, [6], [1])]]), [["0", new Uint8Array(8)]]))),
  TFM5117: () => thrown(() => torch(torchArchive(stateDictPickle([["a", tensorPickle("0", "ComplexFloatStorage", 1, 0, [1], [1])]]), [["0", new Uint8Array(8)]]))),
  TFM5201: () => inputs(json("ids", "[[1]]"), mask, json("idz", "[[1]]")),
  TFM5202: () => inputs(mask),
  TFM5203: () => inputs(json("ids", "[[1]]"), json("ids", "[[1]]"), mask),
  TFM5204: () => inputs(json("ids", "[[1], [2, 3]]"), mask),
  TFM5205: () => inputs({ name: "ids", source: { kind: "array", array: { dtype: "F32", shape: [1, 1], data: new Float32Array(1) } } }, mask),
  TFM5206: () => inputs(json("ids", "[[4294967296]]"), mask),
  TFM5207: () => inputs(json("ids", "[1]"), mask),
  TFM5208: () => inputs(json("ids", "[[1]]"), json("mask", "[[1, 0, 1]]")),
  TFM5209: () => inputs(json("ids", "[[1], [2]]"), mask),
  TFM5210: () => {
    const out = join(dir, "taken");
    writeOutputs(out, [["y", fromValues("f32", [1], [1])]]);
    return thrown(() => writeOutputs(out, [["y", fromValues("f32", [1], [1])]]));
  },
  TFM5211: () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    return thrown(() => writeOutputs(join(file, "sub"), [["y", fromValues("f32", [1], [1])]]));
  },
  TFM5213: () => thrown(() => checkDrawable({ name: "Big", inputs: [], outputs: [], states: [], nodes: Array.from({ length: maxGraphNodes + 1 }, (_, id) => ({ id, op: "const" as const, inputs: [], attrs: { value: 0 }, dtype: "f32" as const, shape: [] })) })),
  TFM5214: () => {
    try {
      void compile("model M {\n  input x: f32[n]\n  y = x * 2\n  output z = y\n}\n", { capture: ["yy.*"] }).graph;
    } catch (e) {
      if (e instanceof TfmError) return [e.code];
      throw e;
    }
    return [];
  },
  TFM5215: () => {
    // A bundle's run(inputs, { capture }) asks for a value the bundle was not built to capture.
    const data = modelData(compile("model M {\n  input x: f32[n]\n  y = x * 2\n  output z = y\n}\n", { capture: ["y"] }), "cpu");
    try {
      capturePorts(data, { capture: ["w"] });
    } catch (e) {
      if (e instanceof TfmError) return [e.code, e.message];
      throw e;
    }
    return [];
  },
  TFM5212: () => thrown(() => toMatrix({ dtype: "F32", shape: [2, 2, 2], data: new Float32Array(8) })),
  TFM5220: () => {
    // A dim no input has as an axis of its own cannot be computed in the ONNX graph.
    const g = { name: "M", inputs: [{ name: "x", node: 0 }], outputs: [{ name: "y", node: 1 }], states: [], nodes: [
      { id: 0, op: "input" as const, inputs: [], attrs: { name: "x" }, dtype: "f32" as const, shape: [mulDim(constDim(2), symDim("n"))] },
      { id: 1, op: "expand" as const, inputs: [0], attrs: {}, dtype: "f32" as const, shape: [symDim("n"), mulDim(constDim(2), symDim("n"))] },
    ] };
    try {
      exportOnnx(g, new Map());
    } catch (e) {
      if (e instanceof ExportError) return [e.code, e.message];
      throw e;
    }
    return [];
  },
};

describe("every TFM51xx and TFM52xx code in the catalogue is produced", () => {
  const runtimeCodes = Object.keys(codes).filter((c) => c.startsWith("TFM51") || c.startsWith("TFM52"));

  it("every TFM5xxx code belongs to a tested group (50xx weight files, 51xx checkpoints, 52xx inputs and outputs)", () => {
    expect(Object.keys(codes).filter((c) => c.startsWith("TFM5") && !/^TFM5[012]/.test(c))).toEqual([]);
  });

  for (const code of runtimeCodes) {
    it(`${code} (${codes[code as keyof typeof codes].title})`, () => {
      const trigger = triggers[code];
      expect(trigger, `no trigger for ${code}: add one to test/unit/runtime/codes.test.ts`).toBeDefined();
      expect(trigger!()).toContain(code);
    });
  }

  it("has no trigger for a code the catalogue lacks", () => {
    expect(Object.keys(triggers).filter((c) => !runtimeCodes.includes(c))).toEqual([]);
  });
});
