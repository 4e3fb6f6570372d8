// The browser-safe core of checkpoint binding: matching a safetensors header against the model's
// weights (names, shapes, dtypes) and converting one matched tensor to the runtime dtype and the
// declared layout. It touches no file and makes no diagnostics: it returns problems (a code, a
// message, notes, and the weight concerned), which bind.ts turns into diagnostics for `tfm run`
// and the bundles of `tfm build` (src/bundle/) throw as errors, with the same codes and words.
import type { Tensor } from "../core/tensor.js";
import type { Code } from "../diag/codes.js";
import { suggest } from "../diag/suggest.js";
import type { DTypeName } from "../core/dtype.js";
import type { DType as FileDType } from "../weights/dtypes.js";
import type { SafetensorsFile, TensorEntry } from "../weights/safetensors.js";
import { makeTensor, roundToDeclared, runtimeDType, showDims, transpose2d } from "./convert.js";
import { commonPrefix, foldNames, patternOf, showName } from "./names.js";

/** What binding needs of a weight: `Weight` (src/check/elaborated.ts) without its declaration. */
export interface WeightSpec {
  /** The checkpoint name. */
  readonly name: string;
  readonly dtype: DTypeName;
  readonly shape: readonly number[];
  /** The checkpoint holds the transpose of `shape`. */
  readonly transposed: boolean;
}

/** A problem with a checkpoint: about one weight (`weight`), or about the checkpoint as a whole. */
export interface CheckpointProblem<W extends WeightSpec = WeightSpec> {
  readonly code: Extract<Code, "TFM5101" | "TFM5102" | "TFM5103" | "TFM5104">;
  readonly message: string;
  readonly notes: string[];
  readonly weight?: W;
}

/** The checkpoint dtypes each declared dtype loads from. Other pairs are refused (TFM5104), never guessed. */
export const loadableFrom: Readonly<Record<DTypeName, readonly FileDType[]>> = {
  f32: ["F32", "F16", "BF16", "F64"],
  f16: ["F32", "F16", "BF16", "F64"],
  bf16: ["F32", "F16", "BF16", "F64"],
  i32: ["I32", "I64", "I16", "I8", "U64", "U32", "U16", "U8"],
  i64: ["I32", "I64", "I16", "I8", "U64", "U32", "U16", "U8"],
  bool: ["BOOL"],
};

/** Whether a checkpoint name matches an `ignore` pattern (`*` matches one dotted segment). */
export function matchesIgnore(pattern: string, name: string): boolean {
  const p = pattern.split(".");
  const n = name.split(".");
  return p.length === n.length && p.every((s, i) => s === "*" || s === n[i]);
}

/** Up to this many problems of one kind are reported one by one; more are folded into one. */
const eachUpTo = 5;

/** The shape a weight has in a checkpoint: its declared shape, or that transposed. */
export const checkpointShape = (w: WeightSpec): readonly number[] => (w.transposed ? [w.shape[1]!, w.shape[0]!] : w.shape);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
export const declared = (w: WeightSpec): string => `${w.dtype}${showDims(w.shape)}${w.transposed ? " transposed" : ""}`;

/**
 * Checks names, shapes and dtypes from the header alone, like PyTorch's
 * load_state_dict(strict=True): a missing weight and an unexpected tensor are both problems, except
 * tensors matching one of the `ignored` patterns. `path` names the checkpoint in messages.
 */
export function matchCheckpoint<W extends WeightSpec>(weights: readonly W[], file: SafetensorsFile, ignored: readonly string[], path: string): CheckpointProblem<W>[] {
  const out: CheckpointProblem<W>[] = [];
  const modelNames = new Set(weights.map((w) => w.name));
  const missing = weights.filter((w) => !file.tensors.has(w.name));
  const unmatched = [...file.tensors.keys()].filter((n) => !modelNames.has(n));
  const unexpected = unmatched.filter((n) => !ignored.some((p) => matchesIgnore(p, n)));
  const badShape: { w: W; e: TensorEntry }[] = [];
  const badDType: { w: W; e: TensorEntry }[] = [];
  for (const w of weights) {
    const e = file.tensors.get(w.name);
    if (!e) continue;
    if (!sameShape(e.shape, checkpointShape(w))) badShape.push({ w, e });
    if (!loadableFrom[w.dtype].includes(e.dtype)) badDType.push({ w, e });
  }

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
      out.push({ code: "TFM5101", weight: w, message: `weight ${showName(w.name)} (${declared(w)}) is not in the checkpoint ${path}`, notes: [...(s ? [`did you mean ${showName(s)}?`] : []), ...prefixNote, ...none] });
    }
  } else if (missing.length) {
    out.push({ code: "TFM5101", message: `${missing.length} of the model's ${weights.length} weights are not in the checkpoint ${path}`, notes: [...none, ...prefixNote, "missing:", ...foldNames(missing.map((w) => w.name))] });
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
      out.push({ code: "TFM5102", message: `the checkpoint ${path} has tensor ${showName(n)}${entry(n)}, which the model does not declare`, notes: [...(s ? [`did you mean ${showName(s)}, which the model declares?`] : []), ignoreHint([n])] });
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
    out.push({ code: "TFM5102", message: `the checkpoint ${path} has ${unexpected.length} tensors the model does not declare`, notes: [...hints, "not in the model:", ...foldNames(unexpected, 30, entry)] });
  }

  // ---- shapes ------------------------------------------------------------------------------
  const shapeNote = (w: W, e: TensorEntry): string[] => {
    if (w.shape.length !== 2 || w.shape[0] === w.shape[1]) return [];
    if (!w.transposed && sameShape(e.shape, [w.shape[1]!, w.shape[0]!])) return ["the checkpoint holds the transpose of the declared shape: declare the weight `transposed`"];
    if (w.transposed && sameShape(e.shape, w.shape)) return ["the checkpoint holds the weight as declared, not transposed: remove `transposed`"];
    return [];
  };
  const shapeText = (w: W, e: TensorEntry) =>
    w.transposed
      ? `weight ${showName(w.name)} is declared ${w.dtype}${showDims(w.shape)} \`transposed\`, so the checkpoint should hold ${showDims(checkpointShape(w))}, but it holds ${showDims(e.shape)}`
      : `weight ${showName(w.name)} is declared ${w.dtype}${showDims(w.shape)}, but the checkpoint holds ${showDims(e.shape)}`;
  if (badShape.length <= eachUpTo) {
    for (const { w, e } of badShape) out.push({ code: "TFM5103", weight: w, message: shapeText(w, e), notes: shapeNote(w, e) });
  } else {
    const transposes = badShape.filter(({ w, e }) => shapeNote(w, e).length).length;
    out.push({
      code: "TFM5103",
      message: `${badShape.length} weights have a different shape in the checkpoint ${path}`,
      notes: [
        ...(transposes ? [`${transposes} of them are stored as the transpose of the declared shape (or the reverse): check \`transposed\` on their declarations`] : []),
        "check the model parameters (--set) against the checkpoint's configuration",
        ...badShape.slice(0, 30).map(({ w, e }) => `${showName(w.name)}: model ${showDims(checkpointShape(w))}${w.transposed ? " (transposed)" : ""}, checkpoint ${showDims(e.shape)}`),
        ...(badShape.length > 30 ? [`… and ${badShape.length - 30} more`] : []),
      ],
    });
  }

  // ---- dtypes ------------------------------------------------------------------------------
  const dtypeNote = (w: W) => `${w.dtype} weights load from ${loadableFrom[w.dtype].join(", ")}`;
  if (badDType.length <= eachUpTo) {
    for (const { w, e } of badDType) {
      out.push({ code: "TFM5104", weight: w, message: `checkpoint tensor ${showName(w.name)} is ${e.dtype}, which cannot be converted to the weight's dtype ${w.dtype}`, notes: [dtypeNote(w)] });
    }
  } else {
    out.push({
      code: "TFM5104",
      message: `${badDType.length} checkpoint tensors have a dtype that cannot be converted to their weight's`,
      notes: [...badDType.slice(0, 30).map(({ w, e }) => `${showName(w.name)}: ${e.dtype} in the checkpoint, ${w.dtype} in the model`), ...(badDType.length > 30 ? [`… and ${badDType.length - 30} more`] : [])],
    });
  }
  return out;
}

/**
 * One matched tensor, converted to the runtime dtype and the declared layout. Throws
 * WeightFileError (TFM5013: an integer outside the int32 range, TFM5019) for values that do not convert.
 */
export function loadWeight(w: WeightSpec, e: TensorEntry): Tensor {
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
