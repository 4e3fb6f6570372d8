// `tfm shapes FILE`: the shape of every binding and every weight with its checkpoint name, shape
// and element count, with totals — a PyTorch-style model summary from the symbolic checker.
import { hasErrors } from "../diag/diagnostic.js";
import { LineMap } from "../diag/span.js";
import { compile, diagnosticToJson, renderDiagnostics } from "../index.js";
import { typeKey } from "../check/shapes/check.js";
import type * as A from "../syntax/ast.js";
import { readSource } from "./io.js";
import { capacityOf } from "../generate/decoder.js";
import { bytesPer, humanBytes } from "./summary.js";
import { asTensor, type SVal } from "../check/shapes/value.js";
import { addDim, constDim, mulDim, showDim } from "../core/dim.js";

interface Row {
  readonly name: string;
  readonly kind: "input" | "binding" | "output";
  readonly shapes: readonly string[];
  readonly line: number;
}

/** Bindings, inputs and outputs of one block or function, in source order. */
function rows(body: readonly A.Member[], types: ReadonlyMap<string, readonly string[]>, file: string, lines: LineMap): Row[] {
  const out: Row[] = [];
  const add = (kind: Row["kind"], id: A.Ident) => out.push({ name: id.name, kind, shapes: types.get(typeKey(file, id.span)) ?? ["?"], line: lines.position(id.span.start).line });
  for (const m of body) {
    if (m.kind === "Input") add("input", m.name);
    else if (m.kind === "Output") add("output", m.name);
    else if (m.kind === "Assign") m.targets.forEach((t) => add("binding", t));
    else if (m.kind === "If") out.push(...rows([...m.then, ...(m.else_ ?? [])], types, file, lines));
  }
  return out;
}

export function runShapes(file: string, opts: { set: Map<string, string>; json?: boolean }, out: (s: string) => void, err: (s: string) => void): number {
  const { text, decodeErrors } = readSource(file);
  const r = compile(text, { file, settings: opts.set }).checked;
  const diagnostics = [...decodeErrors, ...r.diagnostics];
  if (diagnostics.length && !opts.json) err(renderDiagnostics(diagnostics, r.sources) + "\n");
  if (hasErrors(diagnostics) || !r.shapes) {
    if (opts.json) out(JSON.stringify({ file, ok: false, diagnostics: diagnostics.map((d) => diagnosticToJson(d, r.sources)) }, null, 2) + "\n");
    return 1;
  }
  const lines = new LineMap(text);
  const items = r.program.items.filter((i) => i.name.name);
  const sections = items.map((i) => ({
    title: `${i.kind === "Fn" ? "fn" : i.isModel ? "model" : "block"} ${i.name.name}`,
    rows: rows(i.body, r.shapes!.types, file, lines),
  }));
  const weights = (r.instance?.weights ?? []).map((w) => ({ name: w.name, dtype: w.dtype, shape: w.shape, count: w.shape.reduce((a, b) => a * b, 1), transposed: w.transposed }));
  const total = weights.reduce((a, w) => a + w.count, 0);
  const bytes = weights.reduce((a, w) => a + w.count * bytesPer[w.dtype], 0);
  // The state (KV caches): its shape, and its bytes per position it holds (the `past` axis); a state
  // written once per sequence (`once`, no `past`): its bytes, which do not grow.
  const stateBytes = ({ value, axis }: { value: SVal; axis: number }) => asTensor(value)!.shape.reduce((a, d, i) => (i === axis ? a : mulDim(a, d)), constDim(bytesPer[asTensor(value)!.dtype]));
  const states = r.shapes.states.flatMap((s): { name: string; dtype: string; shape: string[]; bytesPerPosition?: string; bytesPerSequence?: string }[] => {
    const t = asTensor(s.value);
    if (!t) return [];
    return [{ name: s.name, dtype: t.dtype, shape: t.shape.map(showDim), ...(s.axis < 0 ? { bytesPerSequence: showDim(stateBytes(s)) } : { bytesPerPosition: showDim(stateBytes(s)) }) }];
  });
  if (opts.json) {
    out(JSON.stringify({ file, ok: true, sections, weights, total: { tensors: weights.length, values: total, bytes }, states }, null, 2) + "\n");
    return 0;
  }
  const pad = (s: string, n: number) => (s.length >= n ? s + " " : s + " ".repeat(n - s.length));
  for (const s of sections) {
    if (!s.rows.length) continue;
    out(`${s.title}\n`);
    const w = Math.max(...s.rows.map((x) => x.name.length)) + 2;
    for (const x of s.rows) out(`  ${pad(x.kind, 8)}${pad(x.name, w)}${x.shapes.join(" | ")}   (line ${x.line})\n`);
    out("\n");
  }
  if (weights.length) {
    const nw = Math.max(...weights.map((x) => x.name.length)) + 2;
    const sw = Math.max(...weights.map((x) => `[${x.shape.join(", ")}]`.length)) + 2;
    out(`${pad("weight", nw + 2)}${pad("shape", sw)}count\n`);
    for (const x of weights) out(`  ${pad(x.name, nw)}${pad(`[${x.shape.join(", ")}]`, sw)}${x.count.toLocaleString("en-US")}${x.transposed ? "  (stored transposed)" : ""}\n`);
    out(`total: ${weights.length} tensors, ${total.toLocaleString("en-US")} values, ${humanBytes(bytes)}\n`);
  }
  if (states.length) {
    const nw = Math.max(...states.map((x) => x.name.length)) + 2;
    const sw = Math.max(...states.map((x) => `${x.dtype}[${x.shape.join(", ")}]`.length)) + 2;
    out(`\n${pad("state", nw + 2)}${pad("shape", sw)}bytes per cached position (or per sequence: written once)\n`);
    for (const x of states) out(`  ${pad(x.name, nw)}${pad(`${x.dtype}[${x.shape.join(", ")}]`, sw)}${x.bytesPerPosition ?? `${x.bytesPerSequence} (once per sequence)`}\n`);
    const sum = (once: boolean) => r.shapes!.states.filter((x) => x.axis < 0 === once).reduce((a, x) => addDim(a, stateBytes(x)), constDim(0));
    const [growing, once] = [sum(false), sum(true)];
    const written = states.filter((x) => x.bytesPerSequence !== undefined).length;
    out(`total: ${states.length} tensors, ${showDim(growing)} bytes per position (past + seq positions after a call)${written ? ` + ${showDim(once)} bytes written once per sequence (${written} tensors)` : ""}\n`);
    // Generation holds each state in one buffer at the model's capacity, appended in place.
    const capacity = capacityOf(r.instance?.model.hparams as never);
    if (capacity !== undefined) out(`at capacity (${capacity} positions, as generation holds it): ${showDim(addDim(mulDim(constDim(capacity), growing), once))} bytes\n`);
  }
  return 0;
}
