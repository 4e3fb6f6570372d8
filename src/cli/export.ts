// `tfm export FILE --onnx model.onnx (--weights PATH | --random-weights [--seed N])`: the optimized
// graph as an ONNX model for onnxruntime, Triton or Netron (src/export/onnx.ts), its weights bound as
// `tfm run` binds them (a folder's config.json sets the parameters). Weights past 2 GiB, or with
// --external-data, go to `<model>.data` beside it. Existing files are never replaced without --force.
import { basename } from "node:path";
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/diagnostic.js";
import { TfmError } from "../index.js";
import { fileErrorDiagnostic, pathTaken, writeFileAtomic } from "../runtime/files.js";
import { parseSeed } from "../runtime/init.js";
import { WeightFileError } from "../weights/errors.js";
import { parseSize } from "../backends/shared/budget.js";
import { readSource, UsageError } from "./io.js";
import { compileFor, progressBar } from "./run.js";
import { humanBytes } from "./summary.js";

export interface ExportCliOptions {
  readonly set: Map<string, string>;
  readonly onnx: string;
  readonly weights?: string[];
  readonly randomWeights?: boolean;
  readonly seed?: string;
  readonly opset?: string;
  readonly externalData?: boolean;
  readonly optimize?: boolean;
  readonly force?: boolean;
  readonly maxMemory?: string;
  readonly stripPrefix?: string[];
  readonly addPrefix?: string;
}

export async function runExport(file: string, opts: ExportCliOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const weights = opts.weights ?? [];
  if (!weights.length === !opts.randomWeights) throw new UsageError("give exactly one of --weights PATH and --random-weights");
  if (opts.onnx.trim() === "") throw new UsageError("--onnx needs a file name (it was empty)");
  const opset = opts.opset === undefined ? undefined : Number(opts.opset);
  if (opset !== undefined && !/^\d+$/.test(opts.opset!)) throw new UsageError(`--opset must be an integer, found ${JSON.stringify(opts.opset)}`);
  const seed = opts.randomWeights ? parseSeed(opts.seed ?? "0") : 0;
  if (typeof seed !== "number") throw new UsageError(seed.error);
  const maxMemory = opts.maxMemory === undefined ? undefined : parseSize(opts.maxMemory);
  if (typeof maxMemory === "object") throw new UsageError(`--max-memory: ${maxMemory.error}`);
  const { text, decodeErrors } = readSource(file);
  const compiled = compileFor(text, file, opts.set, weights, opts.optimize === false ? "none" : "all", err);
  const model = compiled.model;
  const fail = (ds: readonly Diagnostic[]) => {
    err(model.render(sortDiagnostics(ds)) + "\n");
    return 1;
  };
  if ("failed" in compiled) return fail(compiled.failed);
  const checked = [...decodeErrors, ...model.diagnostics];
  if (hasErrors(checked)) return fail(checked);
  if (!model.graph) return fail([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to export")]);
  const dataPath = `${opts.onnx}.data`;
  // Checked before the weights are read; writeFileAtomic checks again, atomically.
  for (const p of [opts.onnx, dataPath]) {
    if (!opts.force && pathTaken(p)) return fail([fileErrorDiagnostic(new WeightFileError("TFM5210", `${p} already exists: not overwriting it (use --force to replace it)`, { file: p }))]);
  }
  let exported;
  try {
    exported = await model.exportOnnx(opts.randomWeights ? { random: true, seed } : weights, {
      ...(opset !== undefined ? { opset } : {}),
      externalData: opts.externalData ? true : "auto",
      dataFile: basename(dataPath),
      onProgress: progressBar(err),
      ...(maxMemory ? { maxMemory } : {}),
      ...(opts.stripPrefix ? { stripPrefix: opts.stripPrefix } : {}),
      ...(opts.addPrefix !== undefined ? { addPrefix: opts.addPrefix } : {}),
      onNote: (n) => err(`note: ${n}\n`),
      checkConfig: false,
    });
  } catch (e) {
    if (e instanceof TfmError && e.diagnostics) return fail(e.diagnostics);
    throw e;
  }
  let dataBytes = 0;
  try {
    if (exported.data) {
      dataBytes = exported.data.reduce((a, c) => a + c.byteLength, 0);
      const all = new Uint8Array(dataBytes);
      let at = 0;
      for (const c of exported.data) all.set(c, (at += c.byteLength) - c.byteLength);
      writeFileAtomic(dataPath, all, opts.force ?? false);
    }
    writeFileAtomic(opts.onnx, exported.model, opts.force ?? false);
  } catch (e) {
    if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, opts.onnx)]);
    throw e;
  }
  out(`wrote ${opts.onnx}: ${model.name}, ${exported.nodes} ONNX nodes, ${exported.initializers} initializers, ${humanBytes(exported.model.byteLength)}${exported.data ? ` (+ ${basename(dataPath)}, ${humanBytes(dataBytes)} of external data)` : ""}\n`);
  out(`  inputs  ${exported.inputs.join(", ")}\n  outputs ${exported.outputs.join(", ")}\n`);
  return 0;
}
