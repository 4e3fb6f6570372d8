// Binds a checkpoint to the model: each weight the model declares is looked up by its checkpoint
// name, checked for shape and dtype, converted to the runtime dtype and laid out as the model
// declares it (`transposed` weights are transposed here, once). Like PyTorch's
// load_state_dict(strict=True), a missing tensor and an unexpected one are both errors; tensors
// matching an `ignore` pattern are skipped. Everything is matched and checked from the header
// before any tensor data is converted or allocated. The matching and converting live in
// checkpoint.ts (browser-safe, shared with the bundles of `tfm build`); this file makes diagnostics.
import type { Tensor } from "../core/tensor.js";
import type { Weight } from "../check/elaborated.js";
import { diag, type Diagnostic, hasErrors } from "../diag/diagnostic.js";
import type { Span } from "../diag/span.js";
import { WeightFileError } from "../weights/errors.js";
import { readSafetensors, type SafetensorsFile } from "../weights/safetensors.js";
import { declared, loadWeight, matchCheckpoint } from "./checkpoint.js";
import { fileErrorDiagnostic } from "./files.js";
import { showName } from "./names.js";

export { checkpointShape, loadableFrom } from "./checkpoint.js";

export interface BindOptions {
  /** The checkpoint's path, for messages (and the file of diagnostics about the file itself). */
  readonly path?: string;
  /**
   * Where diagnostics about the checkpoint as a whole point (unexpected tensors, summaries):
   * usually the model's name, `{ file: r.file, span: r.model.decl.name.span }`.
   */
  readonly at?: { readonly file: string; readonly span: Span };
  /** Told the bytes converted so far and the total, after each weight. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface BoundCheckpoint {
  /** Every weight by checkpoint name, in the model's layout and runtime dtype; undefined when there are errors. */
  readonly tensors: Map<string, Tensor> | undefined;
  readonly diagnostics: Diagnostic[];
}

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

  // A problem about one weight points at its declaration; one about the checkpoint as a whole at
  // the model when the caller says where it is, else at the file.
  const site = opts.at ?? { file: path, span: { start: 0, end: 0 } };
  const diagnostics = matchCheckpoint(weights, file, ignored, path).map((p) =>
    diag(p.weight ? p.weight.file : site.file, p.code, p.weight ? p.weight.decl.span : site.span, p.message, { notes: p.notes }),
  );
  if (hasErrors(diagnostics)) return { tensors: undefined, diagnostics };

  // Everything matched: now convert, one tensor at a time.
  const tensors = new Map<string, Tensor>();
  const total = weights.reduce((a, w) => a + file.tensors.get(w.name)!.byteLength, 0);
  let done = 0;
  for (const w of weights) {
    try {
      const e = file.tensors.get(w.name)!;
      tensors.set(w.name, loadWeight(w, e));
      done += e.byteLength;
      opts.onProgress?.(done, total);
    } catch (e) {
      if (!(e instanceof WeightFileError)) throw e;
      diagnostics.push(diag(w.file, e.code, w.decl.span, `cannot load weight ${showName(w.name)} (${declared(w)}) from ${path}: ${e.message}`));
    }
  }
  return { tensors: hasErrors(diagnostics) ? undefined : tensors, diagnostics };
}
