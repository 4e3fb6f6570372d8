// The model summary `tfm check` prints: parameters, inputs, outputs and weight totals.
import type { CheckResult } from "../api.js";
import { showValue } from "../check/shapes/value.js";
import { declaredBytes } from "../core/dtype.js";
import { show } from "../check/evaluate.js";
import type * as A from "../syntax/ast.js";
import { formatType } from "../syntax/format.js";

/** Bytes per element of each declared dtype. */
export const bytesPer = declaredBytes;

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const typeText = formatType;

export function summaryLines(r: CheckResult): string[] {
  if (!r.model) return ["no model (a library of blocks and functions)"];
  const decl = r.model.decl;
  const out = [`model ${r.model.name}`];
  const inst = r.instance;
  if (inst) {
    const ps = [...inst.model.hparams].map(([k, v]) => `${k}=${show(v)}`);
    if (ps.length) out.push(`  parameters  ${ps.join(" ")}`);
  }
  const inputs = decl.body.filter((m): m is A.InputDecl => m.kind === "Input");
  const outputs = decl.body.filter((m): m is A.OutputDecl => m.kind === "Output");
  out.push(`  inputs      ${inputs.map((i) => `${i.name.name}: ${typeText(i.type)}`).join(", ") || "(none)"}`);
  const inferred = new Map((r.shapes?.outputs ?? []).map((o) => [o.name, showValue(o.value)]));
  out.push(`  outputs     ${outputs.map((o) => `${o.name.name}: ${inferred.get(o.name.name) ?? (o.type ? typeText(o.type) : "?")}`).join(", ") || "(none)"}`);
  if (inst) {
    const count = inst.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    const bytes = inst.weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * bytesPer[w.dtype], 0);
    out.push(`  weights     ${inst.weights.length} tensors, ${count.toLocaleString("en-US")} values, ${humanBytes(bytes)}`);
  }
  return out;
}
