// `tfm build`'s back end: a checked, optimized model → one self-contained ES module and its .d.ts.
// The module is the target's runtime (src/bundle/entry-<target>.ts and what it imports: the
// interpreter, the kernels, the safetensors reader, checkpoint binding), bundled and minified by
// esbuild, after one line of data: `const __tfm_model = JSON.parse("...")`, the model as JSON
// (model-data.ts). Nothing from the user's file becomes code: names reach the module only inside
// that string literal, escaped to ASCII (so `</script>`, U+2028 and quotes cannot end it early),
// and the .d.ts only as quoted property names and in doc comments that cannot be closed.
// The runtime does not depend on the model, so one process builds it once per target.
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { buildSync } from "esbuild";
import type { CheckResult } from "../api.js";
import { showDim } from "../core/dim.js";
import type { Graph } from "../ir/graph.js";
import { modelInputs } from "../runtime/inputs.js";
import { encodeGraph } from "./graph-json.js";
import type { ModelData, PortInfo, Target } from "./model-data.js";

export const targets: readonly Target[] = ["cpu", "webgpu"];

/** A target whose runtime is not in this build of tfm (the WebGPU one, until it lands). */
export class TargetUnavailable extends Error {}

/** A module of this folder: the compiled .js next to this file, or the .ts source when run from source (tests). */
function sibling(name: string): string | undefined {
  for (const ext of [".js", ".ts"]) {
    const path = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Node modules that shared runtime code imports, and their browser-safe stand-ins. Any other
 * `node:` import reached from an entry fails the build (platform "neutral" knows no builtins).
 */
const shims: Readonly<Record<string, string>> = { "node:buffer": "shims/buffer", "node:fs/promises": "shims/fs-promises" };

const runtimes = new Map<string, string>();

/** The target's runtime as one ES module (minified or not), built once per process. */
export function buildRuntime(target: Target, minify = true): string {
  const key = `${target}:${minify}`;
  const known = runtimes.get(key);
  if (known !== undefined) return known;
  const entry = sibling(`entry-${target}`);
  if (!entry) {
    throw new TargetUnavailable(
      target === "webgpu"
        ? "the webgpu target needs the WebGPU runtime (src/backends/webgpu/program.ts, WebGpuProgram) and its bundle entry (src/bundle/entry-webgpu.ts), which this build of tfm does not have yet"
        : `no bundle entry for the target ${target}`,
    );
  }
  const alias = Object.fromEntries(Object.entries(shims).map(([mod, file]) => [mod, sibling(file)!]));
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    minify,
    alias,
    legalComments: "none",
    charset: "ascii",
    metafile: true,
    logLevel: "silent",
  });
  const out = result.outputFiles[0]!;
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  if (imports.length) throw new Error(`bundle: the ${target} runtime imports ${imports.join(", ")}: a bundle must import nothing`);
  if (!out.text.includes("__tfm_model")) throw new Error(`bundle: the ${target} runtime does not read __tfm_model`);
  runtimes.set(key, out.text);
  return out.text;
}

/** The model as a bundle sees it: the optimized graph, its weights and its inputs and outputs. */
export function modelData(r: CheckResult, graph: Graph, target: Target, settings: ReadonlyMap<string, string> = new Map()): ModelData {
  if (!r.model || !r.instance || !r.shapes) throw new Error("modelData needs the result of check() for a model that checked without errors");
  const optional = new Map(modelInputs(r).map((i) => [i.name, i.optional]));
  const port = (p: { name: string; node: number }, input: boolean): PortInfo => {
    const n = graph.nodes[p.node]!;
    return { name: p.name, dtype: n.dtype, shape: n.shape.map(showDim), ...(input && optional.get(p.name) ? { optional: true } : {}) };
  };
  return {
    format: 1,
    target,
    name: r.model.name,
    source: basename(r.file),
    settings: [...settings],
    inputs: graph.inputs.map((p) => port(p, true)),
    outputs: graph.outputs.map((p) => port(p, false)),
    weights: r.instance.weights.map((w) => ({ name: w.name, dtype: w.dtype, shape: [...w.shape], transposed: w.transposed })),
    ignored: [...r.instance.ignored],
    graph: encodeGraph(graph),
  };
}

/** Every character outside printable ASCII as a \u escape, so the text is the same in any encoding and ends no line or script. */
const asciiOnly = (s: string): string => s.replace(/[^\x20-\x7e]|[<>]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** A JS expression whose value is `value`, built from JSON text in one string literal: `JSON.parse("...")`. */
export function jsonExpression(value: unknown): string {
  return `JSON.parse(${asciiOnly(JSON.stringify(JSON.stringify(value)))})`;
}

/** The line that defines the model's data for the runtime. */
export const dataLine = (data: ModelData): string => `const __tfm_model=${jsonExpression(data)};\n`;

export interface Bundle {
  readonly js: string;
  readonly dts: string;
  /** The runtime part of `js` (minified) and the data line, for the report. */
  readonly runtime: string;
  readonly data: string;
}

/** The bundle of a model: header, data line, runtime; and its declarations. */
export function bundle(data: ModelData): Bundle {
  const runtime = buildRuntime(data.target);
  const header = `// Generated by tfm build (target ${data.target}): a standalone ES module of one model. Usage: see the .d.ts beside it.\n`;
  const line = dataLine(data);
  return { js: header + line + runtime, dts: declarations(data), runtime, data: line };
}

/** Sizes for `tfm build --report`: the runtime unminified, minified and gzipped; the data as embedded and gzipped. */
export function sizes(b: Bundle, data: ModelData): { runtime: { raw: number; min: number; gzip: number }; data: { raw: number; min: number; gzip: number }; total: number } {
  const gz = (s: string) => gzipSync(Buffer.from(s), { level: 9 }).length;
  const len = (s: string) => Buffer.byteLength(s);
  return {
    runtime: { raw: len(buildRuntime(data.target, false)), min: len(b.runtime), gzip: gz(b.runtime) },
    data: { raw: len(JSON.stringify(data, null, 2)), min: len(b.data), gzip: gz(b.data) },
    total: len(b.js),
  };
}

// ---- the .d.ts ------------------------------------------------------------------------------

/** Text safe inside a doc comment: it cannot close the comment or break the line. */
const commentSafe = (s: string): string => s.replace(/\*\//g, "*\\/").replace(/[\r\n\u2028\u2029]/g, " ");
/** A quoted property name (JSON's string syntax is TypeScript's), ASCII only. */
const key = (s: string): string => asciiOnly(JSON.stringify(s));

const inputData: Record<string, string> = {
  f32: "Float32Array | Float64Array | readonly number[]",
  f16: "Float32Array | Float64Array | readonly number[]",
  bf16: "Float32Array | Float64Array | readonly number[]",
  i32: "Int32Array | BigInt64Array | readonly (number | bigint)[]",
  i64: "Int32Array | BigInt64Array | readonly (number | bigint)[]",
  bool: "Uint8Array | readonly (boolean | number)[]",
};
const outputData: Record<string, string> = { f32: "Float32Array", f16: "Float32Array", bf16: "Float32Array", i32: "Int32Array", i64: "Int32Array", bool: "Uint8Array" };
const inputNote: Record<string, string> = {
  f32: "any numbers, converted to f32",
  f16: "any numbers, computed in f32",
  bf16: "any numbers, computed in f32",
  i32: "integers in the int32 range (BigInt64Array is range-checked)",
  i64: "integers in the int32 range (computed in i32; BigInt64Array is range-checked)",
  bool: "booleans or 0/1",
};

export function declarations(d: ModelData): string {
  const type = (p: PortInfo) => commentSafe(`${p.dtype}[${p.shape.join(", ")}]`);
  const ports = (ps: readonly PortInfo[]) => `readonly [${ps.map((p) => `{ readonly name: ${key(p.name)}; readonly dtype: ${key(p.dtype)}; readonly shape: readonly string[]${p.optional ? "; readonly optional: true" : ""} }`).join(", ")}]`;
  const lines = [
    `// Generated by tfm build (target ${d.target}). The model's inputs and outputs, with their dtypes and symbolic shapes.`,
    "",
    "/** An input tensor: its elements in row-major order, and its shape. */",
    "export interface TensorIn<D> {",
    "  readonly data: D;",
    "  readonly shape: readonly number[];",
    "}",
    "",
    "/** An output tensor (a fresh copy on every run): its elements in row-major order, and its shape. */",
    "export interface TensorOut<D> {",
    "  readonly data: D;",
    "  readonly shape: number[];",
    "}",
    "",
    "/** The model's inputs, by name. Symbolic dims (batch, seq, ...) take their sizes from the inputs given. */",
    "export interface Inputs {",
    ...d.inputs.flatMap((p) => [`  /** ${type(p)}: ${inputNote[p.dtype]}${p.optional ? " (the model gives a default, not applied by bundles yet: give it)" : ""}. */`, `  readonly ${key(p.name)}: TensorIn<${inputData[p.dtype]}>;`]),
    "}",
    "",
    "/** The model's outputs, by name. */",
    "export interface Outputs {",
    ...d.outputs.flatMap((p) => [`  /** ${type(p)} */`, `  readonly ${key(p.name)}: TensorOut<${outputData[p.dtype]}>;`]),
    "}",
    "",
    "export interface Model {",
    `  /** Runs the model once. Rejects with a TfmError: TFM5201-TFM5206 for inputs that do not fit, TFM6001/TFM6002 at run time${d.target === "webgpu" ? ", TFM7001 when the device is too small" : ""}. */`,
    "  run(inputs: Inputs): Promise<Outputs>;",
    "  /** Releases the weights (and the device's buffers); `run` fails afterwards. */",
    "  dispose(): void;",
    "}",
    "",
    "export interface LoadOptions {",
    d.target === "webgpu" ? "  /** The GPUDevice to run on; default: one from navigator.gpu. */" : "  /** Used by the webgpu target only. */",
    "  readonly device?: unknown;",
    "}",
    "",
    "/**",
    " * Reads a safetensors checkpoint (an ArrayBuffer or typed array, a Blob or Response, a URL to fetch (string or URL),",
    " * or in Node a file path or file: URL) and binds it to the model's weights by checkpoint name, as `tfm run --weights` does.",
    " * Rejects with a TfmError: TFM5001-TFM5020 for a file that is not valid safetensors, TFM5101 (missing",
    ` * tensor), TFM5102 (unexpected tensor), TFM5103 (wrong shape), TFM5104 (wrong dtype)${d.target === "webgpu" ? "; TFM7003 without a WebGPU device, TFM7001 for one too small" : ""}.`,
    " */",
    "export declare function load(weights: ArrayBuffer | ArrayBufferView | string | { readonly href: string } | { arrayBuffer(): Promise<ArrayBuffer> }, options?: LoadOptions): Promise<Model>;",
    "",
    "/** What the model takes and gives. */",
    "export declare const model: {",
    `  readonly name: ${key(d.name)};`,
    `  readonly target: ${key(d.target)};`,
    `  readonly inputs: ${ports(d.inputs)};`,
    `  readonly outputs: ${ports(d.outputs)};`,
    "};",
    "",
    "/** The errors `load` and `run` reject with; `code` is a stable tfm diagnostic code (TFM5xxx, TFM6xxx, TFM7xxx). */",
    "export declare class TfmError extends Error {",
    '  readonly name: "TfmError";',
    "  readonly code: string;",
    "  /** The weight file, byte offset and tensor concerned, when known. */",
    "  readonly file?: string;",
    "  readonly offset?: number;",
    "  readonly tensor?: string;",
    "  /** Every problem found with a checkpoint, when there are several. */",
    "  readonly problems?: readonly { readonly code: string; readonly message: string; readonly notes: readonly string[] }[];",
    "}",
    "",
  ];
  return lines.join("\n");
}
