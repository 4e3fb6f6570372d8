// Shared fixtures for the runtime tests: a tiny model that uses every kind of weight (stdlib
// layers, a `transposed` weight with a checkpoint name, an `ignore` pattern), and helpers to build
// checkpoints for it and to read diagnostics compactly.
import { expect } from "vitest";
import { check, type CheckResult } from "../../../src/api.js";
import type { Weight } from "../../../src/check/elaborated.js";
import { type Diagnostic, hasErrors } from "../../../src/diag/diagnostic.js";
import { renderDiagnostics } from "../../../src/diag/render.js";
import type { NamedTensor } from "../../../src/weights/safetensors.js";

export const tinyText = `model Tiny(d: int = 4, h: int = 3, vocab: int = 10) {
  input ids: i32[batch, seq]
  input mask: bool[batch, seq] = true
  layer emb = Embedding(vocab, d)
  layer proj = Linear(d, h)
  layer norm = LayerNorm(h)
  param w_t: f32[h, d] as "head.kernel" transposed
  param scale: f32[d]
  ignore "extra.*", "rotary.*.inv_freq"
  x = norm(proj(emb(ids)))
  output y = x @ w_t * scale
}
`;

/** Checks a program that must be free of errors. */
export function checked(text: string, file = "tiny.tfm", settings?: Record<string, string>): CheckResult {
  const r = check(text, file, settings ? { settings: new Map(Object.entries(settings)) } : {});
  expect(hasErrors(r.diagnostics), renderDiagnostics(r.diagnostics, r.sources)).toBe(false);
  return r;
}

export const tiny = (): CheckResult => checked(tinyText);
export const weightsOf = (r: CheckResult): readonly Weight[] => r.instance!.weights;

/** Sequential values 0, 1, 2, ... (scaled) for a shape: easy to recognise after a transpose. */
export function seq(shape: readonly number[], scale = 1): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => i * scale);
}

/** A correct checkpoint for `weights`: F32, checkpoint layout, values 0, 1, 2, ... in checkpoint order. */
export function fullCheckpoint(weights: readonly Weight[]): NamedTensor[] {
  return weights.map((w) => {
    const shape = w.transposed ? [w.shape[1]!, w.shape[0]!] : [...w.shape];
    return { name: w.name, dtype: "F32", shape, data: seq(shape) };
  });
}

/** `CODE message` lines, for compact expectations. */
export const summary = (ds: readonly Diagnostic[]): string[] => ds.map((d) => `${d.code} ${d.message}`);

export const render = (ds: readonly Diagnostic[], r: CheckResult): string => renderDiagnostics(ds, r.sources);
