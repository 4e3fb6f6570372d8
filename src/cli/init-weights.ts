// `tfm init-weights FILE --seed N -o w.safetensors`: deterministic random weights for the model,
// initialised layer by layer as PyTorch does (src/runtime/init.ts), written as a checkpoint the
// model loads. An existing file is never replaced without --force.
import { diag, hasErrors, sortDiagnostics } from "../diag/diagnostic.js";
import { compile, renderDiagnostics } from "../index.js";
import { fileErrorDiagnostic, pathTaken, writeFileAtomic } from "../runtime/files.js";
import { parseSeed, randomCheckpoint } from "../runtime/init.js";
import { WeightFileError } from "../weights/errors.js";
import { writeSafetensors } from "../weights/safetensors.js";
import { readSource, UsageError } from "./io.js";
import { humanBytes } from "./summary.js";
import { constants as bufferConstants } from "node:buffer";
import { checkBudget, parseSize, showBytes, weightBytes } from "../backends/shared/budget.js";
import { RunError } from "../backends/shared/errors.js";
import { memoryBudget } from "../budget.js";
import { declaredBytes } from "../core/dtype.js";

export interface InitWeightsOptions {
  readonly set: Map<string, string>;
  readonly seed: string;
  readonly output: string;
  readonly force?: boolean;
  /** The memory budget (`--max-memory 4G`; default src/budget.ts). */
  readonly maxMemory?: string;
}

export function runInitWeights(file: string, opts: InitWeightsOptions, out: (s: string) => void, err: (s: string) => void): number {
  const seed = parseSeed(opts.seed);
  if (typeof seed !== "number") throw new UsageError(seed.error);
  if (opts.output.trim() === "") throw new UsageError("-o/--output needs a file name (it was empty)");
  const maxMemory = opts.maxMemory === undefined ? undefined : parseSize(opts.maxMemory);
  if (typeof maxMemory === "object") throw new UsageError(`--max-memory: ${maxMemory.error}`);
  const { text, decodeErrors } = readSource(file);
  const model = compile(text, { file, settings: opts.set });
  const diagnostics = sortDiagnostics([...decodeErrors, ...model.diagnostics]);
  if (diagnostics.length) err(renderDiagnostics(diagnostics, model.sources) + "\n");
  if (hasErrors(diagnostics)) return 1;
  if (!model.name) {
    err(model.render([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model`: there are no weights to initialise")]) + "\n");
    return 1;
  }
  const fail = (e: unknown): number => {
    if (!(e instanceof WeightFileError)) throw e;
    err(model.render([fileErrorDiagnostic(e, opts.output)]) + "\n");
    return 1;
  };
  // Checked before the (possibly long) generation; writeFileAtomic checks again, atomically.
  if (!opts.force && pathTaken(opts.output)) return fail(new WeightFileError("TFM5210", `${opts.output} already exists: not overwriting it (use --force to replace it)`, { file: opts.output }));
  // The file's size and the memory it takes to make, from the declared shapes, before any value is generated.
  const fileBytes = 8 + model.weights.reduce((a, w) => a + 160 + 6 * w.name.length + 24 * w.shape.length + w.shape.reduce((x, y) => x * y, 1) * declaredBytes[w.dtype], 256);
  if (fileBytes > bufferConstants.MAX_LENGTH) return fail(new WeightFileError("TFM5017", `the file would be about ${showBytes(fileBytes)}, more than one buffer can hold (${bufferConstants.MAX_LENGTH} bytes): nothing was generated`, { file: opts.output }));
  try {
    // The values in the runtime dtypes, the checkpoint's copies (transposed, i64) and the file's bytes.
    checkBudget(2 * weightBytes(model.weights) + fileBytes, memoryBudget(maxMemory), "generating the weights", `${model.weights.length} weight${model.weights.length === 1 ? "" : "s"} as values, their checkpoint layout, and a ${showBytes(fileBytes)} file`);
  } catch (e) {
    if (!(e instanceof RunError)) throw e;
    err(model.render([diag(file, e.code, model.checked.model?.decl.name.span ?? { start: 0, end: 0 }, e.message)]) + "\n");
    return 1;
  }
  const tensors = randomCheckpoint(model.weights, seed);
  let bytes: Uint8Array;
  try {
    bytes = writeSafetensors(tensors, { format: "pt", "tfm.model": model.name, "tfm.seed": String(seed) });
    writeFileAtomic(opts.output, bytes, opts.force ?? false);
  } catch (e) {
    return fail(e);
  }
  const values = model.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  out(`wrote ${opts.output}: ${tensors.length} tensors, ${values.toLocaleString("en-US")} values, ${humanBytes(bytes.length)} (seed ${seed})\n`);
  return 0;
}
