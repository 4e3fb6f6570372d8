// `tfm build`'s back end: a checked, optimized model → one self-contained ES module and its .d.ts.
// The module is the target's runtime (src/bundle/entry-<target>.ts and what it imports: the
// interpreter, the kernels, the safetensors reader, checkpoint binding), bundled and minified by
// esbuild, after one line of data: `const __tfm_model = JSON.parse("...")`, the model as JSON
// (model-data.ts). Nothing from the user's file becomes code: names reach the module only inside
// that string literal, escaped to ASCII (so `</script>`, U+2028 and quotes cannot end it early),
// and the .d.ts only as quoted property names and in doc comments that cannot be closed.
// The runtime does not depend on the model, so one process builds it once per target.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { gzipSync } from "node:zlib";
import type * as Esbuild from "esbuild";
import type { ModelData, PortInfo, Target } from "./model-data.js";
import type { BuiltinTokenizer } from "./builtin-tokenizers.js";

export { modelData } from "./model-data.js";

/** esbuild, loaded on the first build only (it is not on the path of the other commands). */
const esbuild = (): typeof Esbuild => createRequire(import.meta.url)("esbuild") as typeof Esbuild;

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

/**
 * The target's runtime as one ES module (minified or not), built once per process; with
 * `tokenizer`, that built-in tokenizer's module (tokenizer-<name>.ts) compiled in before the entry.
 */
export function buildRuntime(target: Target, minify = true, tokenizer?: BuiltinTokenizer): string {
  const key = `${target}:${minify}:${tokenizer ?? ""}`;
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
  const withTokenizer = tokenizer && sibling(`tokenizer-${tokenizer}`);
  if (tokenizer && !withTokenizer) throw new Error(`bundle: no module for the built-in tokenizer ${tokenizer}`);
  const result = esbuild().buildSync({
    ...(withTokenizer
      ? { stdin: { contents: `import ${JSON.stringify(withTokenizer)};\nexport * from ${JSON.stringify(entry)};\n`, resolveDir: dirname(entry), sourcefile: `entry-${target}-${tokenizer}.js`, loader: "js" as const } }
      : { entryPoints: [entry] }),
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
  const runtime = buildRuntime(data.target, true, data.tokenizer);
  const header = `// Generated by tfm build (target ${data.target}): a standalone ES module of one model. Usage: see the .d.ts beside it.\n`;
  const line = dataLine(data);
  return { js: header + line + runtime, dts: declarations(data), runtime, data: line };
}

/** Sizes for `tfm build --report`: the runtime unminified, minified and gzipped; the data as embedded and gzipped. */
export function sizes(b: Bundle, data: ModelData): { runtime: { raw: number; min: number; gzip: number }; data: { raw: number; min: number; gzip: number }; total: number } {
  const gz = (s: string) => gzipSync(Buffer.from(s), { level: 9 }).length;
  const len = (s: string) => Buffer.byteLength(s);
  return {
    runtime: { raw: len(buildRuntime(data.target, false, data.tokenizer)), min: len(b.runtime), gzip: gz(b.runtime) },
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
    ...d.inputs.flatMap((p) => [
      `  /** ${type(p)}: ${inputNote[p.dtype]}${p.default !== undefined ? ` (left out: ${String(p.default)} everywhere, at the dims the other inputs give)` : p.optional ? " (the model's default is not one literal, which bundles do not apply: give it)" : ""}. */`,
      `  readonly ${key(p.name)}${p.default !== undefined ? "?" : ""}: TensorIn<${inputData[p.dtype]}>;`,
    ]),
    "}",
    "",
    "/** The model's outputs, by name. */",
    "export interface Outputs {",
    ...d.outputs.flatMap((p) => [`  /** ${type(p)} */`, `  readonly ${key(p.name)}: TensorOut<${outputData[p.dtype]}>;`]),
    "}",
    "",
    ...(d.captures?.length
      ? [
          "/** The values this bundle was built to capture (tfm build --capture), by path: run(inputs, { capture }) returns those it asks for. */",
          "export interface Captures {",
          ...d.captures.flatMap((p) => [`  /** ${type(p)} */`, `  readonly ${key(p.name)}: TensorOut<${outputData[p.dtype]}>;`]),
          "}",
          "",
        ]
      : []),
    "export interface Model {",
    `  /** Runs the model once. Rejects with a TfmError: TFM5201-TFM5206 for inputs that do not fit, TFM6001/TFM6002 at run time, TFM6003 over the memory budget${d.target === "webgpu" ? ", TFM7001 when the device is too small" : ""}. */`,
    "  run(inputs: Inputs): Promise<Outputs>;",
    ...(d.captures?.length
      ? [
          "  /**",
          "   * Runs the model once and also returns the captured values that `capture` selects: glob patterns over their paths",
          "   * (`*` one part, `**` any number; `h.*.attn.weights`), or true for all. TFM5215 for a pattern matching none of them.",
          "   */",
          "  run(inputs: Inputs, options: { readonly capture?: readonly string[] | boolean }): Promise<Outputs & Partial<Captures>>;",
        ]
      : []),
    "  /**",
    "   * Generates from token ids (one sequence, or a batch of one length): yields each new token (an array of one per",
    "   * sequence for a batch) as it is made, with the model's KV cache if it declares one. Greedy unless temperature > 0.",
    "   * Rejects with TFM8001 (the model cannot generate), TFM8002 (an option out of range), TFM8003 (past its capacity), TFM8004 (an id not in the vocabulary).",
    "   */",
    "  generate(prompt: readonly number[] | readonly (readonly number[])[], options?: GenerateOptions): AsyncGenerator<number | number[]>;",
    "  /** With a tokenizer given to load(): generates from text, yielding the text each new token adds; stops at the tokenizer's end-of-text token unless `stop` is given. TFM8002 without a tokenizer. */",
    "  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string>;",
    "  /** Starts a sequence from empty state (the cache), runs the inputs and keeps the state. */",
    "  prefill(inputs: Inputs): Promise<Outputs>;",
    ...(d.captures?.length ? ["  /** prefill, also returning the captured values that `capture` selects (as run's); TFM5215 for a pattern matching none, checked before the cache changes. */", "  prefill(inputs: Inputs, options: { readonly capture?: readonly string[] | boolean }): Promise<Outputs & Partial<Captures>>;"] : []),
    "  /** Runs the next positions on the state kept so far, and appends them to it. */",
    "  step(inputs: Inputs): Promise<Outputs>;",
    ...(d.captures?.length ? ["  /** step, also returning the captured values that `capture` selects (as run's); TFM5215 for a pattern matching none, checked before the cache changes. */", "  step(inputs: Inputs, options: { readonly capture?: readonly string[] | boolean }): Promise<Outputs & Partial<Captures>>;"] : []),
    "  /** Forgets the sequence. */",
    "  reset(): void;",
    "  /** Positions the cache holds now. */",
    "  readonly cacheLength: number;",
    d.target === "cpu" ? "  /** The threads the matrix products run on: more than 1 only on Web Workers, in a cross-origin isolated page. */" : "  /** 1: the kernels run on the device. */",
    "  readonly threads: number;",
    "  /** Releases the weights (and the device's buffers); `run` fails afterwards. */",
    "  dispose(): void;",
    "}",
    "",
    "export interface LoadOptions {",
    d.target === "webgpu" ? "  /** The GPUDevice to run on; default: one from navigator.gpu. */" : "  /** Used by the webgpu target only. */",
    "  readonly device?: unknown;",
    "  /** The memory budget in bytes (none by default): weights and, on the CPU, runs needing more are refused with TFM6003 before allocating. */",
    "  readonly maxMemory?: number;",
    d.tokenizer
      ? `  /** A Hugging Face tokenizer for generate(text), replacing the ${d.tokenizer} tokenizer built into this bundle: the parsed tokenizer.json, its bytes, or a URL to fetch it from (TFM8005 when it is not one). */`
      : "  /** A Hugging Face tokenizer for generate(text): the parsed tokenizer.json, its bytes, or a URL to fetch it from (TFM8005 when it is not one). GPT-2's built-in BPE is in bundles built with --tokenizer gpt2 only. */",
    "  readonly tokenizer?: unknown;",
    d.target === "webgpu"
      ? '  /** "f16": the weights\' matrices kept on the device as f16, half their bytes; "int8": as int8 with a scale per output channel, a quarter of them (the kernels compute in f32 on them); default "f32". */'
      : '  /** "f16": the weights\' matrices kept as f16, half their bytes (computed in f32 on them); "int8": quantized per output column, a quarter of their bytes; default "f32". */',
    '  readonly weightsDtype?: "f32" | "f16" | "int8";',
    d.target === "cpu"
      ? "  /** Threads for the matrix products (default: navigator.hardwareConcurrency), on Web Workers where the page is cross-origin isolated (COOP same-origin, COEP require-corp); elsewhere one, said once by console.info. The same results for any count. */"
      : "  /** Used by the cpu target only. */",
    "  readonly threads?: number;",
    "}",
    "",
    d.phases
      ? "export interface GenerateOptions { maxNewTokens?: number; temperature?: number; topK?: number; topP?: number; repetitionPenalty?: number; seed?: number; stop?: readonly number[]; /** The encoder–decoder's source (its encoder's inputs), given once: the prompt is then the decoder's start token. */ source?: Partial<Inputs> }"
      : "export interface GenerateOptions { maxNewTokens?: number; temperature?: number; topK?: number; topP?: number; repetitionPenalty?: number; seed?: number; stop?: readonly number[] }",
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
    ...(d.captures?.length ? [`  readonly captures: ${ports(d.captures)};`] : []),
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
