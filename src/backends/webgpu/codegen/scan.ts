// Scans: an op kernel for cumsum along one axis (and the append of a state it reads, merged into it
// by compile.ts appendIntoScan: each row's workgroup stores the row's new positions into the state
// first). Over the last axis (inner size 1) a workgroup
// scans one row: each of its threads sums a contiguous chunk of the row, thread 0 turns the chunk
// sums into running offsets (in order, in workgroup memory), then each thread scans its chunk again
// from its offset, storing every prefix. Over another axis each thread scans one column in order.
// i32 adds wrap, as the CPU's (src/backends/cpu/kernels/scan.ts) do, so i32 results are exact. The
// CPU sums f32 in double; here f32 sums are float-float pairs (a high part and the low part its
// roundings left, by TwoSum; ~48 bits), so a stored prefix is the CPU's f32 except where the exact
// prefix lies within ~2⁻⁴⁸ of it of halfway between two f32s (docs/WEBGPU.md). An infinite or NaN
// running sum is stored as it is.
import { addDim, constDim, constValue } from "../../../core/dim.js";
import type { Kernel } from "../../../schedule/kernel.js";
import type { Block, Emitter } from "./expr.js";
import { type CompiledKernel, type Ctx, Frame, newBody, THREADS } from "./kernel.js";
import { addU, delinearize, linearize, lit, numelDim } from "./sizes.js";
import { kernelSource, scalarType, toStorage } from "./wgsl.js";
import { Shared } from "./reduce.js";

/** A running sum: `s`, and for f32 its low part `c` (what rounding `s` to f32 left out). */
interface Acc {
  readonly s: string;
  readonly c?: string;
}

function declare(e: Emitter, b: Block, f32: boolean, from?: Acc): Acc {
  const s = e.fresh("s");
  b.line(`var ${s}: ${f32 ? "f32" : "i32"} = ${from?.s ?? (f32 ? "0.0f" : "0i")};`);
  if (!f32) return { s };
  const c = e.fresh("c");
  b.line(`var ${c}: f32 = ${from?.c ?? "0.0f"};`);
  return { s, c };
}

/**
 * acc += v (+ vc, v's own low part). For f32 a float-float addition: TwoSum gives the rounding
 * error of s + v exactly, the low parts are added to it, and the pair is renormalised (s the sum
 * rounded to f32, c what is left, |c| ≤ ulp(s) / 2), so c never drifts as a separate running sum
 * of errors would. Once the sum is infinite or NaN, s keeps it and c is 0, as in double.
 */
function addInto(e: Emitter, b: Block, acc: Acc, v: string, vc?: string): void {
  if (!acc.c) {
    b.line(`${acc.s} = ${acc.s} + ${v};`);
    return;
  }
  const [t, bp, err, h] = [e.fresh("t"), e.fresh("t"), e.fresh("t"), e.fresh("t")];
  b.line(`let ${t} = ${acc.s} + ${v};`);
  b.line(`let ${bp} = ${t} - ${acc.s};`);
  b.line(`let ${err} = ((${acc.s} - (${t} - ${bp})) + (${v} - ${bp})) + ${acc.c}${vc ? ` + ${vc}` : ""};`);
  b.line(`let ${h} = ${t} + ${err};`);
  b.line(`${acc.c} = select(${err} - (${h} - ${t}), 0.0f, (bitcast<u32>(${h}) & 0x7fffffffu) >= 0x7f800000u);`);
  b.line(`${acc.s} = select(${h}, ${t}, tfm_isnan(${h}));`);
}

/** The stored prefix: the sum rounded to f32 (the high part). */
const stored = (acc: Acc): string => acc.s;

/** Epilogue elements per thread (compile.ts scanEpilogue): a row's workgroup computes EPILOGUE_PER · THREADS of them. */
const EPILOGUE_PER = 4;

/**
 * An op kernel: cumsum along node.attrs.axis; with `epilogue`, an elementwise kernel whose outputs'
 * leading dims are the scan's rows, computed in the same dispatch (compile.ts scanEpilogue).
 */
export function scanKernel(ctx: Ctx, k: Kernel, epilogue?: Kernel): CompiledKernel {
  const f = new Frame(ctx, k);
  const node = f.node(k.anchor!);
  const x = f.node(node.inputs[0]!);
  const ax = node.attrs.axis!;
  const outer = x.shape.slice(0, ax), after = x.shape.slice(ax + 1);
  const f32 = scalarType(x.dtype) === "f32";
  const e = f.emitter;
  const b = newBody();
  const sh = new Shared();
  const out = f.out(node.id);
  const r = ctx.sizes.ref(x.shape[ax]!);
  // A state's append this scan writes too (compile.ts appendIntoScan): the row scan only.
  const append = k.nodes.map((id) => ctx.g.nodes[id]!).find((n) => n.op === "append" && ctx.layouts.has(n.id));
  let grid;
  if (constValue(numelDim(after)) === 1) {
    // One workgroup per row, THREADS chunks of ⌈r / THREADS⌉ elements. With an epilogue, `groups`
    // workgroups per row: each scans the row's chunk sums and computes EPILOGUE_PER · THREADS of
    // the epilogue's elements of that row; the row's first stores the append and the scan.
    const rows = numelDim(outer);
    const epShape = epilogue ? f.node(epilogue.outputs[0]!).shape : undefined;
    const rowElems = epShape ? numelDim(epShape.slice(outer.length)) : undefined;
    const per = THREADS * EPILOGUE_PER;
    let row = "wg";
    let lead = (body: Block): void => void b.lines.push(...body.lines);
    if (rowElems) {
      // rowElems + 1: at least one workgroup a row, so that its append and scan are stored when the epilogue is empty.
      b.line(`let groups = (${ctx.sizes.ref(rowElems)} + ${lit(per)}) / ${lit(per)};`);
      b.line("let row = wg / groups;");
      b.line("let grp = wg % groups;");
      row = "row";
      lead = (body: Block): void => void b.nest("if (grp == 0u)", body);
    }
    b.line(`if (${row} >= ${ctx.sizes.ref(rows)}) { return; }`);
    const o = delinearize(ctx.sizes, row, outer).map((s) => e.bind(b, s));
    const zeros = after.map(() => "0u");
    if (append) {
      // The state's new positions in this row, stored where its later positions go (compile.ts appendIntoScan).
      const [state, x] = append.inputs.map((id) => ctx.g.nodes[id]!) as [typeof append, typeof append];
      const store = b.child();
      const v = e.value(store, x.id, [...o, "t"]);
      store.line(`${f.out(append.id)}[${linearize(ctx.sizes, [...o, addU("t", ctx.sizes.ref(state.shape[ax]!))], ctx.layouts.get(append.id)!)}] = ${toStorage(append.dtype, v)};`);
      const loop = b.child();
      loop.nest(`for (var t = lid; t < ${ctx.sizes.ref(x.shape[ax]!)}; t = t + ${lit(THREADS)})`, store);
      lead(loop);
    }
    b.line(`let chunk = (${r} + ${lit(THREADS - 1)}) / ${lit(THREADS)};`);
    b.line(`let j0 = min(lid * chunk, ${r});`);
    b.line(`let j1 = min(j0 + chunk, ${r});`);
    const hi = sh.array("scanhi", f32 ? "f32" : "i32", THREADS);
    const lo = f32 ? sh.array("scanlo", "f32", THREADS) : "";
    const part = declare(e, b, f32);
    const sum = b.child();
    addInto(e, sum, part, e.value(sum, x.id, [...o, "j", ...zeros]));
    b.nest("for (var j = j0; j < j1; j = j + 1u)", sum);
    b.line(`${hi}[lid] = ${part.s};`);
    if (f32) b.line(`${lo}[lid] = ${part.c};`);
    b.line("workgroupBarrier();");
    // Thread 0: chunk sums → the running sum before each chunk, in chunk order.
    const first = b.child();
    const run = declare(e, first, f32);
    const step = first.child();
    const mine = { s: e.fresh("p"), c: f32 ? e.fresh("p") : undefined };
    step.line(`let ${mine.s} = ${hi}[q];`);
    if (f32) step.line(`let ${mine.c} = ${lo}[q];`);
    step.line(`${hi}[q] = ${run.s};`);
    if (f32) step.line(`${lo}[q] = ${run.c};`);
    addInto(e, step, run, mine.s, mine.c);
    first.nest(`for (var q = 0u; q < ${lit(THREADS)}; q = q + 1u)`, step);
    b.nest("if (lid == 0u)", first);
    b.line("workgroupBarrier();");
    if (k.outputs.includes(node.id)) {
      const stores = b.child();
      const acc = declare(e, stores, f32, { s: `${hi}[lid]`, c: f32 ? `${lo}[lid]` : undefined });
      const scan = stores.child();
      addInto(e, scan, acc, e.value(scan, x.id, [...o, "j", ...zeros]));
      scan.line(`${out}[${row} * ${r} + j] = ${stored(acc)};`);
      stores.nest("for (var j = j0; j < j1; j = j + 1u)", scan);
      lead(stores);
    }
    if (epilogue && epShape && rowElems) {
      // The scan at [o', j] in the epilogue: from this row's chunk offsets and the chunk's elements
      // up to j — the bits of the stored prefix; another row's (an index the epilogue moves) from
      // the start of that row.
      f.leaves.set(node.id, (blk, idx) => {
        const at = idx.slice(0, ax), j = idx[ax]!;
        const mineRow = at.every((v, i) => v === o[i]);
        const q = mineRow ? e.bind(blk, `${j} / chunk`) : "0u";
        const acc = declare(e, blk, f32, mineRow ? { s: `${hi}[${q}]`, c: f32 ? `${lo}[${q}]` : undefined } : undefined);
        const jv = e.fresh("j");
        const body = blk.child();
        addInto(e, body, acc, e.value(body, x.id, [...at, jv, ...zeros]));
        blk.nest(`for (var ${jv} = ${mineRow ? `${q} * chunk` : "0u"}; ${jv} <= ${j}; ${jv} = ${jv} + 1u)`, body);
        return stored(acc);
      });
      const each = b.child();
      each.line(`let ei = (grp * ${lit(EPILOGUE_PER)} + pq) * ${lit(THREADS)} + lid;`);
      const inner = each.child();
      const idx = [...o, ...delinearize(ctx.sizes, "ei", epShape.slice(outer.length)).map((v) => e.bind(inner, v))];
      const values = epilogue.outputs.map((id) => e.value(inner, id, idx));
      epilogue.outputs.forEach((id, i) => inner.line(`${f.out(id)}[${row} * ${ctx.sizes.ref(rowElems)} + ei] = ${toStorage(f.node(id).dtype, values[i]!)};`));
      each.nest(`if (ei < ${ctx.sizes.ref(rowElems)})`, inner);
      b.nest(`for (var pq = 0u; pq < ${lit(EPILOGUE_PER)}; pq = pq + 1u)`, each);
      grid = [{ size: rows, per: 1 }, { size: addDim(rowElems, constDim(1)), per }];
    } else grid = [{ size: rows, per: 1 }];
  } else {
    if (append) throw new Error("webgpu: a scan writes an append only when it scans rows");
    // One thread per column (an outer and an inner index), in order along the axis.
    const cols = numelDim([...outer, ...after]);
    b.line(`let gi = wg * ${lit(THREADS)} + lid;`);
    b.line(`if (gi >= ${ctx.sizes.ref(cols)}) { return; }`);
    const oi = delinearize(ctx.sizes, "gi", [...outer, ...after]).map((s) => e.bind(b, s));
    const o = oi.slice(0, outer.length), a = oi.slice(outer.length);
    const acc = declare(e, b, f32);
    const scan = b.child();
    addInto(e, scan, acc, e.value(scan, x.id, [...o, "j", ...a]));
    scan.line(`${out}[${linearize(ctx.sizes, [...o, "j", ...a], node.shape)}] = ${stored(acc)};`);
    b.nest(`for (var j = 0u; j < ${r}; j = j + 1u)`, scan);
    grid = [{ size: cols, per: THREADS }];
  }
  const { bindings, binds } = f.finalBindings();
  return {
    kernel: k.id,
    kind: k.kind,
    wgsl: kernelSource(bindings, sh.text(), String(THREADS), b.text()),
    binds,
    grid,
    workgroupBytes: sh.bytes,
    invocations: THREADS,
    checks: [],
  };
}
