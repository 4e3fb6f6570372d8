// Binds a checkpoint to the model: each weight the model declares is looked up by its checkpoint
// name, checked for shape and dtype, converted to the runtime dtype and laid out as the model
// declares it (`transposed` weights are transposed here, once). Like PyTorch's
// load_state_dict(strict=True), a missing tensor and an unexpected one are both errors; tensors
// matching an `ignore` pattern are skipped. Everything is matched and checked from the header
// before any tensor data is converted or allocated.
import type { Tensor } from "../backends/cpu/tensor.js";
import { matchesIgnore, type Weight } from "../check/instantiate.js";
import { diag, type Diagnostic, hasErrors } from "../diag/diagnostic.js";
import type { Span } from "../diag/span.js";
import { suggest } from "../diag/suggest.js";
import type { DTypeName } from "../syntax/ast.js";
import type { DType as FileDType } from "../weights/dtypes.js";
import { WeightFileError } from "../weights/errors.js";
import { readSafetensors, type SafetensorsFile, type TensorEntry } from "../weights/safetensors.js";
import { makeTensor, roundToDeclared, runtimeDType, showDims, transpose2d } from "./convert.js";
import { fileErrorDiagnostic } from "./files.js";
import { commonPrefix, foldNames, patternOf, showName } from "./names.js";

/** The checkpoint dtypes each declared dtype loads from. Other pairs are refused (TFM5104), never guessed. */
export const loadableFrom: Readonly<Record<DTypeName, readonly FileDType[]>> = {
  f32: ["F32", "F16", "BF16", "F64"],
  f16: ["F32", "F16", "BF16", "F64"],
  bf16: ["F32", "F16", "BF16", "F64"],
  i32: ["I32", "I64", "I16", "I8", "U64", "U32", "U16", "U8"],
  i64: ["I32", "I64", "I16", "I8", "U64", "U32", "U16", "U8"],
  bool: ["BOOL"],
};

/** Up to this many problems of one kind get a diagnostic each; more are folded into one. */
const eachUpTo = 5;

export interface BindOptions {
  /** The checkpoint's path, for messages (and the file of diagnostics about the file itself). */
  readonly path?: string;
  /**
   * Where diagnostics about the checkpoint as a whole point (unexpected tensors, summaries):
   * usually the model's name, `{ file: r.file, span: r.model.decl.name.span }`.
   */
  readonly at?: { readonly file: string; readonly span: Span };
}

export interface BoundCheckpoint {
  /** Every weight by checkpoint name, in the model's layout and runtime dtype; undefined when there are errors. */
  readonly tensors: Map<string, Tensor> | undefined;
  readonly diagnostics: Diagnostic[];
}

/** The shape a weight has in a checkpoint: its declared shape, or that transposed. */
export const checkpointShape = (w: Weight): readonly number[] => (w.transposed ? [w.shape[1]!, w.shape[0]!] : w.shape);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const declared = (w: Weight) => `${w.dtype}${showDims(w.shape)}${w.transposed ? " transposed" : ""}`;

/**
 * Matches a safetensors checkpoint (parsed, or its bytes) against the model's weights and returns
 * the weights as runtime tensors. `ignored` are the model's `ignore` patterns (`instance.ignored`).
 */
export function bindCheckpoint(
  weights: readonly Weight[],
  checkpoint: SafetensorsFile | Uint8Array,
  ignored: readonly string[] = [],
  opts: BindOptions = {},
): BoundCheckpoint {
  const path = opts.path ?? "<checkpoint>";
  let file: SafetensorsFile;
  if (checkpoint instanceof Uint8Array) {
    try {
      file = readSafetensors(checkpoint, path);
    } catch (e) {
      if (e instanceof WeightFileError) return { tensors: undefined, diagnostics: [fileErrorDiagnostic(e, path)] };
      throw e;
    }
  } else file = checkpoint;

  const diagnostics = match(weights, file, ignored, path, opts.at);
  if (hasErrors(diagnostics)) return { tensors: undefined, diagnostics };

  // Everything matched: now convert, one tensor at a time.
  const tensors = new Map<string, Tensor>();
  for (const w of weights) {
    try {
      tensors.set(w.name, load(w, file.tensors.get(w.name)!));
    } catch (e) {
      if (!(e instanceof WeightFileError)) throw e;
      diagnostics.push(diag(w.file, e.code, w.decl.span, `cannot load weight ${showName(w.name)} (${declared(w)}) from ${path}: ${e.message}`));
    }
  }
  return { tensors: hasErrors(diagnostics) ? undefined : tensors, diagnostics };
}

/** Checks names, shapes and dtypes from the header alone. */
function match(weights: readonly Weight[], file: SafetensorsFile, ignored: readonly string[], path: string, at: BindOptions["at"]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const modelNames = new Set(weights.map((w) => w.name));
  const missing = weights.filter((w) => !file.tensors.has(w.name));
  const unmatched = [...file.tensors.keys()].filter((n) => !modelNames.has(n));
  const unexpected = unmatched.filter((n) => !ignored.some((p) => matchesIgnore(p, n)));
  const badShape: { w: Weight; e: TensorEntry }[] = [];
  const badDType: { w: Weight; e: TensorEntry }[] = [];
  for (const w of weights) {
    const e = file.tensors.get(w.name);
    if (!e) continue;
    if (!sameShape(e.shape, checkpointShape(w))) badShape.push({ w, e });
    if (!loadableFrom[w.dtype].includes(e.dtype)) badDType.push({ w, e });
  }
  // Diagnostics about the checkpoint as a whole: at the model when the caller says where it is, else on the file.
  const site = at ?? { file: path, span: { start: 0, end: 0 } };

  // ---- missing -----------------------------------------------------------------------------
  const prefix = missing.length ? commonPrefix(missing.map((w) => w.name), unmatched) : undefined;
  const prefixNote = prefix
    ? prefix.where === "checkpoint"
      ? [`${prefix.count} of the missing weights are in the checkpoint under the prefix ${showName(prefix.prefix)} (e.g. a wrapper module's name): strip it from the checkpoint's names`]
      : [`${prefix.count} of the missing weights are in the checkpoint without the prefix ${showName(prefix.prefix)}: the checkpoint was saved from a module without it`]
    : [];
  const none = missing.length === weights.length && weights.length > 1 ? [`none of the model's ${weights.length} weights is in ${path}: is it the checkpoint for this model?`] : [];
  if (missing.length && missing.length <= eachUpTo) {
    for (const w of missing) {
      const s = prefix ? undefined : suggest(w.name, unmatched);
      out.push(diag(w.file, "TFM5101", w.decl.span, `weight ${showName(w.name)} (${declared(w)}) is not in the checkpoint ${path}`, {
        notes: [...(s ? [`did you mean ${showName(s)}?`] : []), ...prefixNote, ...none],
      }));
    }
  } else if (missing.length) {
    out.push(diag(site.file, "TFM5101", site.span, `${missing.length} of the model's ${weights.length} weights are not in the checkpoint ${path}`, {
      notes: [...none, ...prefixNote, "missing:", ...foldNames(missing.map((w) => w.name))],
    }));
  }

  // ---- unexpected --------------------------------------------------------------------------
  const entry = (n: string) => {
    const e = file.tensors.get(n)!;
    return ` (${e.dtype}${showDims(e.shape)})`;
  };
  const ignoreHint = (names: readonly string[]) => {
    const patterns = [...new Set(names.map(patternOf))];
    const shown = patterns.slice(0, 4).map((p) => JSON.stringify(p)).join(", ");
    return `if the model does not use ${names.length === 1 ? "it" : "them"}, declare in the model: ignore ${shown}${patterns.length > 4 ? ", ..." : ""}`;
  };
  if (unexpected.length && unexpected.length <= eachUpTo) {
    const missingNames = missing.map((w) => w.name);
    for (const n of unexpected) {
      const s = prefix ? undefined : suggest(n, missingNames);
      out.push(diag(site.file, "TFM5102", site.span, `the checkpoint ${path} has tensor ${showName(n)}${entry(n)}, which the model does not declare`, {
        notes: [...(s ? [`did you mean ${showName(s)}, which the model declares?`] : []), ignoreHint([n])],
      }));
    }
  } else if (unexpected.length) {
    // Names that are the missing weights' under a prefix need renaming, not ignoring.
    const missingNames = new Set(missing.map((w) => w.name));
    const renamed = prefix?.where === "checkpoint" ? unexpected.filter((n) => n.startsWith(prefix.prefix) && missingNames.has(n.slice(prefix.prefix.length))) : [];
    const renamedSet = new Set(renamed);
    const rest = unexpected.filter((n) => !renamedSet.has(n));
    const hints = [
      ...(renamed.length ? [`${renamed.length} of them are the model's weights under the prefix ${showName(prefix!.prefix)}`] : []),
      ...(rest.length ? [ignoreHint(rest)] : []),
    ];
    out.push(diag(site.file, "TFM5102", site.span, `the checkpoint ${path} has ${unexpected.length} tensors the model does not declare`, {
      notes: [...hints, "not in the model:", ...foldNames(unexpected, 30, entry)],
    }));
  }

  // ---- shapes ------------------------------------------------------------------------------
  const shapeNote = (w: Weight, e: TensorEntry): string[] => {
    if (w.shape.length !== 2 || w.shape[0] === w.shape[1]) return [];
    if (!w.transposed && sameShape(e.shape, [w.shape[1]!, w.shape[0]!])) return ["the checkpoint holds the transpose of the declared shape: declare the weight `transposed`"];
    if (w.transposed && sameShape(e.shape, w.shape)) return ["the checkpoint holds the weight as declared, not transposed: remove `transposed`"];
    return [];
  };
  const shapeText = (w: Weight, e: TensorEntry) =>
    w.transposed
      ? `weight ${showName(w.name)} is declared ${w.dtype}${showDims(w.shape)} \`transposed\`, so the checkpoint should hold ${showDims(checkpointShape(w))}, but it holds ${showDims(e.shape)}`
      : `weight ${showName(w.name)} is declared ${w.dtype}${showDims(w.shape)}, but the checkpoint holds ${showDims(e.shape)}`;
  if (badShape.length <= eachUpTo) {
    for (const { w, e } of badShape) out.push(diag(w.file, "TFM5103", w.decl.span, shapeText(w, e), { notes: shapeNote(w, e) }));
  } else {
    const transposes = badShape.filter(({ w, e }) => shapeNote(w, e).length).length;
    out.push(diag(site.file, "TFM5103", site.span, `${badShape.length} weights have a different shape in the checkpoint ${path}`, {
      notes: [
        ...(transposes ? [`${transposes} of them are stored as the transpose of the declared shape (or the reverse): check \`transposed\` on their declarations`] : []),
        "check the model parameters (--set) against the checkpoint's configuration",
        ...badShape.slice(0, 30).map(({ w, e }) => `${showName(w.name)}: model ${showDims(checkpointShape(w))}${w.transposed ? " (transposed)" : ""}, checkpoint ${showDims(e.shape)}`),
        ...(badShape.length > 30 ? [`… and ${badShape.length - 30} more`] : []),
      ],
    }));
  }

  // ---- dtypes ------------------------------------------------------------------------------
  const dtypeNote = (w: Weight) => `${w.dtype} weights load from ${loadableFrom[w.dtype].join(", ")}`;
  if (badDType.length <= eachUpTo) {
    for (const { w, e } of badDType) {
      out.push(diag(w.file, "TFM5104", w.decl.span, `checkpoint tensor ${showName(w.name)} is ${e.dtype}, which cannot be converted to the weight's dtype ${w.dtype}`, { notes: [dtypeNote(w)] }));
    }
  } else {
    out.push(diag(site.file, "TFM5104", site.span, `${badDType.length} checkpoint tensors have a dtype that cannot be converted to their weight's`, {
      notes: [...badDType.slice(0, 30).map(({ w, e }) => `${showName(w.name)}: ${e.dtype} in the checkpoint, ${w.dtype} in the model`), ...(badDType.length > 30 ? [`… and ${badDType.length - 30} more`] : [])],
    }));
  }
  return out;
}

/** One matched tensor, converted to the runtime dtype and the declared layout. */
function load(w: Weight, e: TensorEntry): Tensor {
  const rt = runtimeDType[w.dtype];
  let data: Float32Array | Int32Array | Uint8Array;
  if (rt === "f32") {
    data = e.toFloat32();
    // Rounded to the declared precision when the file holds more (an F32 file for an f16 weight).
    if ((w.dtype === "f16" && e.dtype !== "F16") || (w.dtype === "bf16" && e.dtype !== "BF16")) roundToDeclared(data, w.dtype);
  } else if (rt === "i32") data = e.toInt32();
  else data = (e.decode() as Uint8Array).map((v) => (v === 0 ? 0 : 1));
  if (w.transposed) data = transpose2d(data, e.shape[0]!, e.shape[1]!);
  return makeTensor(rt, w.shape, data);
}
